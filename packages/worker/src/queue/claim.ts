import {
  endBilling,
  isStale,
  isTerminal,
  type JobItem,
  JobMessageSchema,
  type JobUpdate,
  jobTransitions,
  type Logger,
  staleAfterMs,
  ttlAfter,
} from '@obelm/core';
import { type JobTable, relayEndOrLog, type StoreContext } from '@obelm/store';
import type { JobQueue, ReceivedMessage } from './queue.ts';

export interface ClaimDeps {
  /** What follows a job's end is relayed through it (store outbox.ts). */
  readonly store: StoreContext;
  readonly jobs: JobTable;
  readonly queue: JobQueue;
  readonly workerId: string;
  readonly heartbeatSeconds: number;
  readonly maxAttempts: number;
  /** How long an ended job item is kept (core endedJobKeepSeconds). */
  readonly endedKeepSeconds: number;
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
 * Turns a received message into a claimed job (one conditional write when it may run), settling everything
 * that needs no run:
 * - a malformed message is logged and left alone, so SQS redrives it to the DLQ after maxReceiveCount;
 * - a job already terminal (or gone) just has its message deleted, but for a poison job's: a job that failed
 *   `too_many_attempts` keeps its message visible, so SQS moves it to the DLQ (where the operators' alarm is);
 *   an end whose relay a crash left undone (`outboxPending`: store outbox.ts) is relayed then;
 * - a queued job past its TTL expires, one with a cancel request is canceled, one out of attempts fails (each
 *   end relayed: its usage entry, its tenant's held jobs released);
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

  // The common case in one write: a runnable job claimed without reading it. Only when that condition fails is
  // the item read (DynamoDB could return it with the failure, ReturnValuesOnConditionCheckFailure, but the
  // local stand-in does not, so the read keeps one path everywhere) and settled below.
  const runnable = jobTransitions.claimRunnable(
    { id: jobId, tenant: parsed.tenant },
    deps.workerId,
    new Date(),
    {
      maxAttempts: deps.maxAttempts,
    },
  );
  const claimedAtOnce = await jobs.apply(runnable);
  if (claimedAtOnce) return { claimed: claimedAtOnce };

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
    // The message first, then what follows the job's end (its usage entry, the tenant's next held job).
    const settle = async (outcome: Settled, ended: JobItem | undefined) => {
      // A poison job's message is left for SQS to dead-letter after its receive limit; others are done.
      if (outcome === 'too_many_attempts') await queue.setVisibility(message, 0);
      else await queue.delete(message);
      if (ended?.outboxPending) await relayEndOrLog(deps.store, ended, log);
      return { outcome };
    };
    if (isTerminal(job.status)) {
      // An end whose relay did not get through (a crash right after it) is finished here.
      return settle(isPoison(job) ? 'too_many_attempts' : 'already_done', job);
    }
    const now = new Date();
    if (job.status === 'queued') {
      const settled = await settleUnrunnable(deps, job, now);
      if (settled) return settle(settled.outcome, settled.ended);
      const claimed = await jobs.apply(jobTransitions.claim(job, deps.workerId, now));
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

type Settled = 'already_done' | 'expired' | 'canceled' | 'too_many_attempts';

/**
 * Ends a queued job that must not run: how it ended, and the ended item when this call ended it (undefined when
 * another writer got there first: that writer relays the end). Undefined when the job may run.
 */
async function settleUnrunnable(
  deps: ClaimDeps,
  job: JobItem,
  now: Date,
): Promise<{ outcome: Settled; ended: JobItem | undefined } | undefined> {
  const ttl = ttlAfter(now, deps.endedKeepSeconds);
  const from = { status: 'queued' as const };
  const end = async (outcome: Settled, update: JobUpdate) => ({
    outcome,
    ended: await deps.jobs.apply(update),
  });
  if (job.ttl * 1000 < now.getTime()) {
    return end(
      'expired',
      jobTransitions.expire(job.id, now, { ttl, billing: endBilling(job, 'expired', now) }),
    );
  }
  if (job.cancelRequested) {
    // What its checkpoint holds ran (a job stopped, re-queued, then canceled): that much is billed.
    const billing = endBilling(job, 'canceled', now, job.checkpoint?.gpuMs);
    return end('canceled', jobTransitions.cancel(job.id, from, now, { ttl, billing }));
  }
  if (job.attempts >= deps.maxAttempts) {
    const message = `the job stopped its worker ${job.attempts} times; it is not retried again`;
    const failed = await end(
      'too_many_attempts',
      jobTransitions.fail(job.id, from, now, {
        ttl,
        error: { code: 'too_many_attempts', message },
        billing: endBilling(job, 'failed', now),
      }),
    );
    deps.log.error('job failed after too many attempts', {
      jobId: job.id,
      tenant: job.tenant,
      attempts: job.attempts,
    });
    return failed;
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
