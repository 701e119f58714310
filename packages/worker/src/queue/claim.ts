import {
  isStale,
  isTerminal,
  type JobItem,
  JobMessageSchema,
  jobTransitions,
  type Logger,
  staleAfterMs,
  ttlAfter,
} from '@obelm/core';
import type { JobStore } from '../aws/jobStore.ts';
import type { JobQueue, ReceivedMessage } from './queue.ts';

export interface ClaimDeps {
  readonly jobs: JobStore;
  readonly queue: JobQueue;
  readonly workerId: string;
  readonly heartbeatSeconds: number;
  readonly maxAttempts: number;
  readonly jobTtlSeconds: number;
  readonly log: Logger;
}

/** Either this worker now owns the job, or the message was dealt with (or deliberately left) without running. */
export type ClaimResult =
  | { readonly claimed: JobItem }
  | {
      readonly claimed?: undefined;
      readonly outcome:
        | 'bad_message'
        | 'missing'
        | 'already_done'
        | 'expired'
        | 'canceled'
        | 'too_many_attempts'
        | 'held_elsewhere';
    };

/**
 * Turns a received message into a claimed job, settling everything that needs no run:
 * - a malformed message is logged and left alone, so SQS redrives it to the DLQ after maxReceiveCount;
 * - a job already terminal (or gone) just has its message deleted, but for a poison job's: a job that failed
 *   `too_many_attempts` keeps its message visible, so SQS moves it to the DLQ (where the operators' alarm is);
 * - a queued job past its TTL expires, one with a cancel request is canceled, one out of attempts fails;
 * - a running job whose heartbeat went stale (its worker died) is put back to queued and claimed again;
 *   one with a fresh heartbeat belongs to a live worker, and the duplicate message is deleted (the sweeper
 *   recovers the job should that worker die).
 */
export async function claimFromMessage(deps: ClaimDeps, message: ReceivedMessage): Promise<ClaimResult> {
  const { jobs, queue, log } = deps;
  const parsed = parseMessage(message.body);
  if (!parsed) {
    log.error('malformed jobs message; left for the dead-letter queue', {
      messageId: message.id,
      receiveCount: message.receiveCount,
      body: message.body.slice(0, 500),
    });
    return { outcome: 'bad_message' };
  }
  const { jobId } = parsed;

  // A few rounds at most: each lost race means another writer moved the job, so re-read and decide again.
  for (let round = 0; round < 3; round++) {
    const job = await jobs.get(jobId);
    if (!job) {
      log.warn('message names a job that does not exist; deleting it', { jobId, tenant: parsed.tenant });
      await queue.delete(message);
      return { outcome: 'missing' };
    }
    if (job.tenant !== parsed.tenant) {
      log.error('message tenant does not match the job; left for the dead-letter queue', {
        jobId,
        tenant: job.tenant,
        messageTenant: parsed.tenant,
      });
      return { outcome: 'bad_message' };
    }
    if (isTerminal(job.status)) {
      if (isPoison(job)) {
        await queue.setVisibility(message, 0);
        return { outcome: 'too_many_attempts' };
      }
      await queue.delete(message);
      return { outcome: 'already_done' };
    }
    const now = new Date();
    if (job.status === 'queued') {
      const settled = await settleUnrunnable(deps, job, now);
      if (settled) {
        // A poison job's message is left for SQS to dead-letter after its receive limit; others are done.
        if (settled === 'too_many_attempts') await queue.setVisibility(message, 0);
        else await queue.delete(message);
        return { outcome: settled };
      }
      const claimed = await jobs.apply(jobTransitions.claim(jobId, deps.workerId, now));
      if (claimed) return { claimed };
      continue;
    }
    // running: stale after two missed heartbeats (visibility covers three, so redelivery implies stale).
    if (isStale(job, now, staleAfterMs(deps.heartbeatSeconds))) {
      log.warn('job has a stale heartbeat; re-queuing it', {
        jobId,
        tenant: job.tenant,
        lastWorker: job.workerId,
        attempts: job.attempts,
      });
      await jobs.apply(jobTransitions.requeue(jobId, now, { seenHeartbeatAt: job.heartbeatAt ?? null }));
      continue;
    }
    // A live worker owns it: this message is a duplicate (a sweep's re-send). The owner holds its own message,
    // and a dead owner's job comes back through its stale heartbeat, so the duplicate can go.
    await queue.delete(message);
    break;
  }
  return { outcome: 'held_elsewhere' };
}

/** Ends a queued job that must not run; returns how it ended, or undefined when it may run. */
async function settleUnrunnable(
  deps: ClaimDeps,
  job: JobItem,
  now: Date,
): Promise<'expired' | 'canceled' | 'too_many_attempts' | undefined> {
  const ttl = ttlAfter(now, deps.jobTtlSeconds);
  const from = { status: 'queued' as const };
  if (job.ttl * 1000 < now.getTime()) {
    await deps.jobs.apply(jobTransitions.expire(job.id, now, { ttl }));
    return 'expired';
  }
  if (job.cancelRequested) {
    await deps.jobs.apply(jobTransitions.cancel(job.id, from, now, { ttl }));
    return 'canceled';
  }
  if (job.attempts >= deps.maxAttempts) {
    const message = `the job stopped its worker ${job.attempts} times; it is not retried again`;
    await deps.jobs.apply(
      jobTransitions.fail(job.id, from, now, { ttl, error: { code: 'too_many_attempts', message } }),
    );
    deps.log.error('job failed after too many attempts', {
      jobId: job.id,
      tenant: job.tenant,
      attempts: job.attempts,
    });
    return 'too_many_attempts';
  }
  return undefined;
}

/** A job that crashed its workers until it was failed: its message belongs in the dead-letter queue. */
const isPoison = (job: JobItem): boolean =>
  job.status === 'failed' && job.error?.code === 'too_many_attempts';

function parseMessage(body: string) {
  try {
    const result = JobMessageSchema.safeParse(JSON.parse(body));
    return result.success ? result.data : undefined;
  } catch {
    return undefined;
  }
}
