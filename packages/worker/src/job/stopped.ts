import { classify, describeError, endBilling, type JobItem, jobTransitions } from '@obelm/core';
import { relayEndOrLog } from '@obelm/store';
import type { JobLease } from '../queue/lease.ts';
import type { ReceivedMessage } from '../queue/queue.ts';
import { deleteStrayCheckpoints, saveCheckpoint } from './checkpoint.ts';
import { type ExecuteDeps, type JobOutcome, ttlFromNow } from './context.ts';
import type { RunTrace } from './trace.ts';

/**
 * Settles a run that stopped before its end, from why it stopped (the lease's reason) or what it threw:
 * - lost: another worker took the job over; nothing is written;
 * - canceled: a cancel request seen during the run; the job pays for the model time it used; message deleted;
 * - checkpointed: stopped by `lease.abort('checkpoint')`, state saved, job re-queued, message visible again;
 * - failed: a typed error (bad input, model failure; core `classify`) recorded on the item, message deleted;
 * - retry: a transient fault (re-queued at its last checkpoint, the attempt given back) or a bug (re-queued with
 *   the attempt counted: OBELM_MAX_ATTEMPTS ends one that never gets through); the message comes back after
 *   one heartbeat.
 */
export async function settleStoppedRun(
  deps: ExecuteDeps,
  job: JobItem,
  message: ReceivedMessage,
  lease: JobLease,
  trace: RunTrace,
  error: unknown,
): Promise<JobOutcome> {
  const { jobs, queue, log, workerId } = deps;
  const owner = { status: 'running', workerId } as const;
  const reason = lease.stopReason;
  if (reason === 'lost') return 'lost';
  if (reason === 'canceled') {
    const now = new Date();
    const canceled = await jobs.apply(
      jobTransitions.cancel(job.id, owner, now, {
        ttl: ttlFromNow(deps.endedKeepSeconds),
        metrics: trace.metered ? { gpuMs: Math.round(trace.modelMs()) } : undefined,
        billing: endBilling(job, 'canceled', now, trace.resumedGpuMs, trace.modelMs()),
      }),
    );
    // Only the owner that ended the job deletes its message; one that lost it leaves the message to the new owner.
    if (!canceled) return 'lost';
    await queue.delete(message);
    await relayEndOrLog(deps.store, canceled, log);
    return 'canceled';
  }
  if (reason === 'checkpoint') {
    const { model, lastStep } = trace;
    const checkpoint =
      model && lastStep
        ? await saveCheckpoint(deps.blobs, model, job, lastStep, new Date(), trace.billableGpuMs())
        : trace.checkpoint;
    const parked = await jobs.apply(jobTransitions.checkpoint(job.id, workerId, new Date(), checkpoint));
    await lease.close(); // a heartbeat in flight must not hide the message again after this
    await queue.setVisibility(message, 0);
    if (parked && checkpoint) {
      // The periodic checkpoint this one supersedes (if a step ran since) and any stray objects go.
      trace.recordCheckpoint(checkpoint);
      await deleteStrayCheckpoints(deps.blobs, trace, log);
    }
    log.info('job checkpointed', { stage: checkpoint?.stage, step: checkpoint?.step });
    return 'checkpointed';
  }
  const verdict = classify(error);
  if (verdict.kind === 'job') {
    const now = new Date();
    const failed = await jobs.apply(
      jobTransitions.fail(job.id, owner, now, {
        error: verdict.error,
        ttl: ttlFromNow(deps.endedKeepSeconds),
        billing: endBilling(job, 'failed', now),
      }),
    );
    if (!failed) return 'lost';
    await queue.delete(message);
    await relayEndOrLog(deps.store, failed, log);
    log.warn('job failed', { code: verdict.error.code, error: verdict.error.message });
    return 'failed';
  }
  const retried = {
    attempt: job.attempts,
    ...describeError(error, { stack: verdict.kind === 'unexpected' }),
  };
  if (verdict.kind === 'transient') {
    // Not the job's fault (an outage of S3, SQS or DynamoDB): parked at its last checkpoint with the attempt
    // given back, as a stop is, so an outage longer than a few retries does not fail good jobs.
    log.warn('job hit a transient fault; it will be retried', retried);
    await jobs.apply(jobTransitions.checkpoint(job.id, workerId, new Date(), trace.checkpoint));
  } else {
    log.error('job crashed; it will be retried', retried);
    await jobs.apply(jobTransitions.requeue(job.id, new Date(), { workerId }));
  }
  await lease.close();
  await queue.setVisibility(message, deps.heartbeatSeconds);
  return 'retry';
}
