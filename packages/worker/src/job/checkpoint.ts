import { describeError, type JobCheckpoint, type JobItem, type Logger, s3Keys } from '@obelm/core';
import type { DiffusionModel, PipelineCheckpoint, PipelineProgress, SamplerState } from '@obelm/engine';
import { checkCompatible, type NoiseMetadata, readNoiseArtifact, writeNoiseArtifact } from '@obelm/models';
import type { BlobStore } from '../aws/blobs.ts';
import { runMeta } from './pipelines.ts';

/**
 * Checkpoints are noise-artifact files (float64 safetensors): the state a stopped run reached, plus the end
 * state of every stage before it. The stage and step live on the job item. The metadata pins the model and
 * grid, so a checkpoint is never resumed under other settings (e.g. after the bundle behind an id changed).
 */
function checkpointMeta(model: DiffusionModel, job: JobItem, stage: number): NoiseMetadata {
  return { ...runMeta(model, job.params), prompt: `checkpoint of ${job.id}, stage ${stage}`, freezeIndex: 0 };
}

export async function saveCheckpoint(
  blobs: BlobStore,
  model: DiffusionModel,
  job: JobItem,
  at: PipelineProgress,
  now: Date,
): Promise<JobCheckpoint> {
  const save = async (key: string, state: SamplerState, stage: number) => {
    await blobs.put(
      key,
      writeNoiseArtifact({ state, meta: checkpointMeta(model, job, stage) }),
      'application/octet-stream',
    );
    return key;
  };
  const completedKeys = await Promise.all(
    at.completed.map((state, n) => save(s3Keys.jobCheckpointStage(job.tenant, job.id, n), state, n)),
  );
  const key = await save(s3Keys.jobCheckpoint(job.tenant, job.id), at.state, at.stage);
  return { key, completedKeys, stage: at.stage, step: at.step, savedAt: now.toISOString() };
}

export async function loadCheckpoint(
  blobs: BlobStore,
  model: DiffusionModel,
  job: JobItem,
  checkpoint: JobCheckpoint,
): Promise<PipelineCheckpoint> {
  const load = async (key: string, stage: number) => {
    const { state, meta } = readNoiseArtifact(await blobs.get(key));
    checkCompatible(meta, checkpointMeta(model, job, stage));
    return state;
  };
  return {
    stage: checkpoint.stage,
    state: await load(checkpoint.key, checkpoint.stage),
    completed: await Promise.all(checkpoint.completedKeys.map((key, n) => load(key, n))),
  };
}

/**
 * Removes a finished job's checkpoint objects: they are useless once the job succeeded. Best effort (the
 * bucket's lifecycle rule removes them with the job's folder anyway), so a failure is only logged.
 */
export async function deleteCheckpoint(
  blobs: BlobStore,
  checkpoint: JobCheckpoint,
  log: Logger,
): Promise<void> {
  const keys = [checkpoint.key, ...checkpoint.completedKeys];
  const results = await Promise.allSettled(keys.map((key) => blobs.delete(key)));
  const failed = results.find((r) => r.status === 'rejected');
  if (failed) log.warn('checkpoint cleanup failed', { keys, ...describeError(failed.reason) });
}
