import {
  describeError,
  type JobCheckpoint,
  type JobItem,
  jobTransitions,
  type Logger,
  s3Keys,
} from '@obelm/core';
import type {
  DiffusionModel,
  LastEps,
  PipelineCheckpoint,
  PipelineProgress,
  SamplerState,
} from '@obelm/engine';
import { checkCompatible, type NoiseMetadata, readNoiseArtifact, writeNoiseArtifact } from '@obelm/models';
import type { BlobStore } from '../aws/blobs.ts';
import type { JobLease } from '../queue/lease.ts';
import type { ExecuteDeps } from './context.ts';
import { runMeta } from './pipelines.ts';
import type { RunTrace } from './trace.ts';

/**
 * Checkpoints are noise-artifact files (float64 safetensors): the state a run reached, plus the end state of
 * every stage before it, each with the last eps that reached it where the run kept one (the job's noise artifact
 * holds it, so a resumed run writes the same bytes). The stage and step live on the job item. The metadata pins the model and grid, so a
 * checkpoint is never resumed under other settings (e.g. after the bundle behind an id changed).
 *
 * Keys are written once per content: the state at step n has its own key (core `jobCheckpointAt`), and a
 * stage's end state is the same whichever checkpoint saves it. Since a run is deterministic, a late or repeated
 * write (a retried save, a worker that lost the job) puts the same bytes under a key, so the item always points
 * at the state it names; superseded keys are deleted once the item no longer points at them.
 */
function checkpointMeta(model: DiffusionModel, job: JobItem, stage: number): NoiseMetadata {
  return { ...runMeta(model, job.params), prompt: `checkpoint of ${job.id}, stage ${stage}`, freezeIndex: 0 };
}

/** The keys a checkpoint at `at` is saved under. */
function keysAt(job: JobItem, at: PipelineProgress) {
  return {
    key: s3Keys.jobCheckpointAt(job.tenant, job.id, at.step),
    completedKeys: at.completed.map((_, n) => s3Keys.jobCheckpointStage(job.tenant, job.id, n)),
  };
}

export async function saveCheckpoint(
  blobs: BlobStore,
  model: DiffusionModel,
  job: JobItem,
  at: PipelineProgress,
  now: Date,
  /** GPU time of the work up to `at`, every attempt that led to it (RunTrace `billableGpuMs`). */
  gpuMs: number,
): Promise<JobCheckpoint> {
  const save = (key: string, state: SamplerState, stage: number, lastEps: LastEps | undefined) =>
    blobs.put(
      key,
      writeNoiseArtifact({ state, meta: checkpointMeta(model, job, stage), ...(lastEps ? { lastEps } : {}) }),
      'application/octet-stream',
    );
  const { key, completedKeys } = keysAt(job, at);
  await Promise.all([
    ...at.completed.map((state, n) => save(completedKeys[n]!, state, n, at.completedLastEps?.[n])),
    save(key, at.state, at.stage, at.lastEps),
  ]);
  return { key, completedKeys, stage: at.stage, step: at.step, savedAt: now.toISOString(), gpuMs };
}

/**
 * A periodic checkpoint of a running job (OBELM_CHECKPOINT_SECONDS): the last step's state saved, recorded on the
 * item (`saveCheckpoint`, owner only), and the checkpoint it supersedes deleted. It is taken between two steps,
 * so it is exactly the state a SIGTERM checkpoint would save there, and the resumed run is bitwise the same.
 * A failed save is logged and the run goes on: the item still points at the previous checkpoint, whose objects
 * no newer save overwrites; what the failed save may have written is deleted later (stray keys).
 */
export async function checkpointRunningJob(
  deps: ExecuteDeps,
  job: JobItem,
  trace: RunTrace,
  lease: JobLease,
): Promise<void> {
  const { model, lastStep } = trace;
  if (!model || !lastStep || lease.signal.aborted) return;
  trace.checkpointTried();
  const { key, completedKeys } = keysAt(job, lastStep);
  for (const written of [key, ...completedKeys]) trace.strayCheckpointKeys.add(written);
  try {
    const checkpoint = await saveCheckpoint(
      deps.blobs,
      model,
      job,
      lastStep,
      new Date(),
      trace.billableGpuMs(),
    );
    const recorded = await deps.jobs.apply(
      jobTransitions.saveCheckpoint(job.id, deps.workerId, new Date(), checkpoint),
    );
    if (!recorded) {
      // Taken over: the new owner may point at these very keys, and this run will not finish to delete them.
      lease.abort('lost');
      return;
    }
    trace.recordCheckpoint(checkpoint);
    await deleteStrayCheckpoints(deps.blobs, trace, deps.log);
  } catch (error) {
    deps.log.warn('periodic checkpoint failed; the job goes on', {
      step: lastStep.step,
      ...describeError(error),
    });
  }
}

export async function loadCheckpoint(
  blobs: BlobStore,
  model: DiffusionModel,
  job: JobItem,
  checkpoint: JobCheckpoint,
): Promise<PipelineCheckpoint> {
  const load = async (key: string, stage: number) => {
    const artifact = readNoiseArtifact(await blobs.get(key));
    checkCompatible(artifact.meta, checkpointMeta(model, job, stage));
    return artifact;
  };
  const [at, completed] = await Promise.all([
    load(checkpoint.key, checkpoint.stage),
    Promise.all(checkpoint.completedKeys.map((key, n) => load(key, n))),
  ]);
  return {
    stage: checkpoint.stage,
    state: at.state,
    completed: completed.map((c) => c.state),
    ...(at.lastEps ? { lastEps: at.lastEps } : {}),
    completedLastEps: completed.map((c) => c.lastEps),
  };
}

/**
 * Deletes the run's stray checkpoint objects (superseded, or saved but not recorded). Best effort (the bucket's
 * lifecycle rule removes them with the job's folder anyway): a key that could not be deleted stays stray and is
 * tried again.
 */
export async function deleteStrayCheckpoints(blobs: BlobStore, trace: RunTrace, log: Logger): Promise<void> {
  const keys = [...trace.strayCheckpointKeys];
  const results = await Promise.allSettled(keys.map((key) => blobs.delete(key)));
  results.forEach((result, n) => {
    if (result.status === 'fulfilled') trace.strayCheckpointKeys.delete(keys[n]!);
  });
  const failed = results.find((r) => r.status === 'rejected');
  if (failed)
    log.warn('checkpoint cleanup failed', {
      keys: [...trace.strayCheckpointKeys],
      ...describeError(failed.reason),
    });
}

/**
 * Once a job succeeded its checkpoints are useless: deletes every checkpoint object in its folder, including
 * those an earlier run wrote but could not record or delete (a crash, an S3 outage mid-save), which this run's
 * trace does not know. Best effort: the bucket's lifecycle rule removes what is left with the job's folder.
 * Skipped, with its listing, where there can be none: this run tried no save, and it is the job's first (its
 * claim set startedAt, which every later claim keeps: core transitions claim), so no earlier run tried one.
 */
export async function deleteJobCheckpoints(
  blobs: BlobStore,
  job: JobItem,
  trace: RunTrace,
  log: Logger,
): Promise<void> {
  const firstRun = job.startedAt !== undefined && job.startedAt === job.claimedAt;
  if (firstRun && !trace.triedCheckpoint && !job.checkpoint) return;
  try {
    const keys = await blobs.list(s3Keys.jobCheckpoints(job.tenant, job.id));
    await Promise.all(keys.map((key) => blobs.delete(key)));
  } catch (error) {
    log.warn('checkpoint cleanup failed', describeError(error));
  }
}
