import {
  classify,
  describeError,
  type JobItem,
  type JobMetrics,
  jobTransitions,
  type Logger,
} from '@obelm/core';
import type { PipelineProgress } from '@obelm/engine';
import type { BlobStore } from './blobs.ts';
import { deleteCheckpoint, loadCheckpoint, saveCheckpoint } from './checkpoint.ts';
import { loadInputs } from './inputs.ts';
import type { JobStore } from './jobStore.ts';
import type { JobLease } from './lease.ts';
import { meterModel } from './meteredModel.ts';
import type { ModelCache } from './modelCache.ts';
import { writeOutputs, writeReport } from './outputs.ts';
import type { JobQueue, ReceivedMessage } from './queue.ts';
import type { JobRunner } from './runner.ts';

export interface ExecuteDeps {
  readonly jobs: JobStore;
  readonly queue: JobQueue;
  readonly blobs: BlobStore;
  readonly models: ModelCache;
  readonly runner: JobRunner;
  readonly workerId: string;
  readonly heartbeatSeconds: number;
  readonly jobTtlSeconds: number;
  readonly stepDelayMs: number;
  readonly log: Logger;
}

/** What happened to a claimed job; the consumer only logs it. */
export type JobOutcome = 'succeeded' | 'failed' | 'canceled' | 'checkpointed' | 'lost' | 'retry';

/** Per-step line of report.json. */
interface StepRecord {
  /** Pipeline stage index and direction. */
  stage: number;
  direction: 'invert' | 'sample';
  /** Steps done over the whole job, of `total`. */
  step: number;
  total: number;
  /** Wall time of the step, and the part of it spent inside the model. */
  ms: number;
  modelMs: number;
}

/**
 * Runs a job this worker has claimed, to one of its ends:
 * - succeeded: outputs and report.json in S3, the item finished with outputs and metrics, message deleted;
 * - failed: a typed error (bad input, model failure) recorded on the item, message deleted;
 * - canceled: a cancel request seen during the run, message deleted;
 * - checkpointed: stopped by `lease.abort('checkpoint')`, state saved, job re-queued, message visible again;
 * - lost: another worker took the job over; nothing is written;
 * - retry: an unexpected error (a transient S3 or network failure too); the job is re-queued with the attempt
 *   counted and the message comes back.
 */
export async function executeJob(
  deps: ExecuteDeps,
  job: JobItem,
  message: ReceivedMessage,
  lease: JobLease,
): Promise<JobOutcome> {
  const { jobs, queue, blobs, log } = deps;
  const claimedAt = performance.now();
  const steps: StepRecord[] = [];
  let lastStep: PipelineProgress | undefined;
  let metered: ReturnType<typeof meterModel> | undefined;

  try {
    const model = await deps.models.get(job.params.model);
    metered = meterModel(model, lease.signal);
    const loadStart = performance.now();
    const inputs = await loadInputs(blobs, job.inputs, model, lease.signal);
    const resume = job.checkpoint ? await loadCheckpoint(blobs, model, job, job.checkpoint) : undefined;
    const loadMs = performance.now() - loadStart;

    const runStart = performance.now();
    let stepStart = runStart;
    let modelMsBefore = metered.modelMs();
    const result = await deps.runner({
      params: job.params,
      model: metered.model,
      inputs,
      signal: lease.signal,
      resume,
      onStep: async (step) => {
        const now = performance.now();
        const modelMs = metered!.modelMs();
        steps.push({
          stage: step.stage,
          direction: step.stageName,
          step: step.step,
          total: step.total,
          ms: now - stepStart,
          modelMs: modelMs - modelMsBefore,
        });
        lastStep = step;
        await lease.progress(step.step, step.total);
        if (deps.stepDelayMs > 0) await sleep(deps.stepDelayMs);
        stepStart = performance.now();
        modelMsBefore = metered!.modelMs();
      },
    });
    const computeMs = performance.now() - runStart;

    const metrics: JobMetrics = {
      queueMs: job.startedAt ? Date.parse(job.startedAt) - Date.parse(job.createdAt) : undefined,
      runMs: Math.round(performance.now() - claimedAt),
      gpuMs: Math.round(metered.modelMs()),
      ...result.metrics,
    };
    // The report does not depend on the outputs' writes, so all of them go to S3 at once.
    const [outputs, report] = await Promise.all([
      writeOutputs(blobs, job, result),
      writeReport(blobs, job, {
        jobId: job.id,
        kind: job.params.kind,
        model: job.params.model,
        workerId: deps.workerId,
        attempt: job.attempts,
        params: job.params,
        settings: result.settings,
        ...(job.checkpoint
          ? { resumedFrom: { stage: job.checkpoint.stage, step: job.checkpoint.step } }
          : {}),
        metrics,
        timings: {
          loadMs: round(loadMs),
          computeMs: round(computeMs),
          modelMs: round(metered.modelMs()),
        },
        steps: steps.map((s) => ({ ...s, ms: round(s.ms), modelMs: round(s.modelMs) })),
      }),
    ]);
    outputs.report = report;
    metrics.runMs = Math.round(performance.now() - claimedAt);

    const finished = await jobs.apply(
      jobTransitions.succeed(job.id, deps.workerId, new Date(), {
        outputs,
        metrics,
        ...(lastStep ? { progress: { step: lastStep.total, of: lastStep.total } } : {}),
        ttl: ttlFromNow(deps.jobTtlSeconds),
      }),
    );
    if (!finished) {
      // Canceled or taken over while the outputs were being written: the item says what happened.
      log.warn('job changed hands before it could finish', { jobId: job.id });
      return 'lost';
    }
    await queue.delete(message);
    if (job.checkpoint) await deleteCheckpoint(blobs, job.checkpoint, log);
    return 'succeeded';
  } catch (error) {
    const reason = lease.stopReason;
    if (reason === 'lost') return 'lost';
    if (reason === 'canceled') {
      await jobs.apply(
        jobTransitions.cancel(job.id, { status: 'running', workerId: deps.workerId }, new Date(), {
          ttl: ttlFromNow(deps.jobTtlSeconds),
          metrics: metered ? { gpuMs: Math.round(metered.modelMs()) } : undefined,
        }),
      );
      await queue.delete(message);
      return 'canceled';
    }
    if (reason === 'checkpoint') {
      const model = metered?.model;
      const checkpoint =
        model && lastStep ? await saveCheckpoint(blobs, model, job, lastStep, new Date()) : job.checkpoint;
      await jobs.apply(jobTransitions.checkpoint(job.id, deps.workerId, new Date(), checkpoint));
      await queue.setVisibility(message, 0);
      log.info('job checkpointed', { jobId: job.id, stage: checkpoint?.stage, step: checkpoint?.step });
      return 'checkpointed';
    }
    const verdict = classify(error);
    if (verdict.kind === 'job') {
      await jobs.apply(
        jobTransitions.fail(job.id, { status: 'running', workerId: deps.workerId }, new Date(), {
          error: verdict.error,
          ttl: ttlFromNow(deps.jobTtlSeconds),
        }),
      );
      await queue.delete(message);
      log.warn('job failed', { jobId: job.id, code: verdict.error.code, error: verdict.error.message });
      return 'failed';
    }
    // Transient or unexpected: hand the job back with the attempt counted (OBELM_MAX_ATTEMPTS ends one that
    // never gets through); the message returns after one heartbeat.
    const unexpected = verdict.kind === 'unexpected';
    const retried = { jobId: job.id, attempt: job.attempts, ...describeError(error, { stack: unexpected }) };
    if (unexpected) log.error('job crashed; it will be retried', retried);
    else log.warn('job hit a transient fault; it will be retried', retried);
    await jobs.apply(jobTransitions.requeue(job.id, new Date(), { workerId: deps.workerId }));
    await queue.setVisibility(message, deps.heartbeatSeconds);
    return 'retry';
  }
}

const round = (ms: number) => Math.round(ms * 100) / 100;
const ttlFromNow = (seconds: number) => Math.floor(Date.now() / 1000) + seconds;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
