import { GetQueueAttributesCommand, type QueueAttributeName } from '@aws-sdk/client-sqs';
import { paginateScan } from '@aws-sdk/lib-dynamodb';
import { dbKeys, describeError, endBilling, isStale, type JobItem, jobTransitions } from '@obelm/core';
import { relayEnd, relayEndOrLog, releaseHeld, sendJobMessage } from '@obelm/store';
import { sweepBatches } from './batches/sweep.ts';
import type { Deps } from './deps.ts';
import { applyTransition, endedTtl } from './jobs/store.ts';
import { apiLog } from './log.ts';

export interface SweepOptions {
  /** A running job whose last heartbeat is older than this is taken back from its (dead) worker. */
  staleAfterMs: number;
  /**
   * Send every sent queued job's message again, lost or not: only for a queue known to have forgotten everything
   * (the local stack's in-memory stand-in, at start and after it restarts). Default false.
   */
  resendAll?: boolean;
  /**
   * A message sent less than this long ago may not show yet in the queue's approximate counts (SQS: they are
   * eventually consistent, about a minute behind). Default SETTLE_MS.
   */
  settleMs?: number;
}

export interface SweepReport {
  /** Queued jobs whose message was sent again. */
  requeued: string[];
  /** Running jobs with a stale heartbeat put back to queued and sent again. */
  recovered: string[];
  /** Queued jobs past their TTL, now expired. */
  expired: string[];
  /** Held jobs released into their tenant's free dispatch slots (store dispatch.ts). */
  released: string[];
  /** Ended jobs whose outbox (usage entry, release of held jobs) a crash had left undone, now done. */
  relayed: string[];
  /** Batches closed (expectedImages), completed or relayed that a crash or a lost event had left (batches/sweep.ts). */
  batches: string[];
}

/** Twice the lag AWS documents for the approximate message counts. */
export const SETTLE_MS = 2 * 60_000;

/** When a job's message was last put in the queue (items older than `enqueuedAt` only have updatedAt). */
const lastSent = (job: JobItem): number => Date.parse(job.enqueuedAt ?? job.updatedAt);

/**
 * Reconciles the table with the jobs queue: a queued job whose message is lost gets one again, a running job
 * whose worker stopped heartbeating goes back to queued (state.ts: running -> queued) and gets one, a queued
 * job past its TTL expires; then each tenant's held jobs are released into its free dispatch slots, and ended
 * jobs whose outbox is still pending get it done (store relayEnd: a crash between a job's end and what follows
 * it, a release that failed, a tenant whose parallelJobs was raised).
 *
 * Which messages are lost. Only sent jobs have one (a held job waits in the table by design, store
 * dispatch.ts). A live queue holds at least one message per sent active job: a queued job's waits
 * (visible, for as long as no worker is free: a cold start's backlog is not a loss), a running job's is held by
 * its worker (not visible) until the job ends. SQS cannot say which job a message names without receiving it,
 * but it counts them, so the sweep compares: the active jobs whose message has had time to show in the counts
 * (all running jobs, and queued jobs sent at least `settleMs` ago) against the queue's messages (visible, not
 * visible, delayed). Only a shortfall is lost, and only that many queued jobs are sent again, those sent longest
 * ago first (a standard queue delivers roughly oldest first, so a waiting old job is the likeliest loss). Errors
 * of the counts (duplicates not yet dropped, a finished job's message not yet gone) only hide a loss, never
 * invent one: a later sweep sends it, and a wrong guess is a duplicate, which a worker deletes (claim.ts). A
 * queued job last sent longer ago than the queue keeps messages has certainly lost its message; with the
 * stack's settings (jobs live a day, messages four) that never happens, but the rule does not rely on it.
 *
 * Re-sending every queued job on every sweep instead would count each one two or three times in the backlog
 * metric that scales the GPU fleet during a cold start.
 *
 * Run at local start (with `resendAll`: the stand-in queue is in memory and forgets across restarts) and, in the
 * cloud, on a schedule (a lost message, a crashed worker). It scans the table: fine for the local stack and small
 * tables; a large deployment would query the sparse active-jobs index (gsi2, per tenant) over a list of tenants
 * and a sparse index of pending outboxes instead (a follow-up).
 */
export async function sweepJobs(
  deps: Deps,
  { staleAfterMs, resendAll = false, settleMs = SETTLE_MS }: SweepOptions,
): Promise<SweepReport> {
  const report: SweepReport = {
    requeued: [],
    recovered: [],
    expired: [],
    released: [],
    relayed: [],
    batches: [],
  };
  const now = deps.now();
  /** Queued jobs that hold a dispatch slot, so have (or had) a message; items from before dispatch too. */
  const queued: JobItem[] = [];
  const heldTenants = new Set<string>();
  const endedPending: JobItem[] = [];
  let running = 0;
  const pages = paginateScan(
    { client: deps.db },
    {
      TableName: deps.config.OBELM_TABLE,
      FilterExpression:
        'sk = :sk AND (#status = :queued OR #status = :running OR attribute_exists(#outboxPending))',
      ExpressionAttributeNames: { '#status': 'status', '#outboxPending': 'outboxPending' },
      ExpressionAttributeValues: { ':sk': dbKeys.job('x').sk, ':queued': 'queued', ':running': 'running' },
    },
  );
  for await (const page of pages) {
    for (const job of (page.Items ?? []) as JobItem[]) {
      if (job.status === 'queued') {
        if (job.ttl * 1000 < now.getTime()) {
          const expired = await applyTransition(
            deps,
            jobTransitions.expire(job.id, now, {
              ttl: endedTtl(deps),
              billing: endBilling(job, 'expired', now),
            }),
          );
          if (expired) {
            report.expired.push(job.id);
            await relayEndOrLog(deps.store, expired, apiLog);
          }
        } else if (job.dispatch === 'held') {
          heldTenants.add(job.tenant);
        } else {
          queued.push(job);
        }
      } else if (job.status !== 'running') {
        endedPending.push(job);
      } else {
        const seenHeartbeatAt = job.heartbeatAt ?? null;
        if (
          isStale(job, now, staleAfterMs) &&
          (await applyTransition(deps, jobTransitions.requeue(job.id, now, { seenHeartbeatAt })))
        ) {
          await sendJobMessage(deps.store, job);
          report.recovered.push(job.id);
        } else {
          running++;
        }
      }
    }
  }

  for (const job of resendAll ? queued : await lostMessages(deps, queued, running, now, settleMs)) {
    await sendJobMessage(deps.store, job);
    // Claimed meanwhile (the condition fails): the claim has the job, the duplicate is dropped by a worker.
    await applyTransition(deps, jobTransitions.resent(job.id, now));
    report.requeued.push(job.id);
  }

  // After the lost-message rule, so that messages sent now never hide a loss from the queue's counts.
  for (const tenant of heldTenants) {
    try {
      report.released.push(...(await releaseHeld(deps.store, tenant)));
    } catch (err) {
      apiLog.warn('releasing held jobs failed; the next sweep tries again', {
        tenant,
        ...describeError(err),
      });
    }
  }
  for (const job of endedPending) {
    try {
      await relayEnd(deps.store, job);
      report.relayed.push(job.id);
    } catch (err) {
      apiLog.warn('relaying a job end failed; the next sweep tries again', {
        jobId: job.id,
        ...describeError(err),
      });
    }
  }
  // After the job relays: a batch whose last job's relay ran just now may be complete already.
  report.batches.push(...(await sweepBatches(deps)));
  return report;
}

/** The queued jobs to send again under the rule above: as many as the queue is short, sent longest ago first. */
async function lostMessages(
  deps: Deps,
  queued: JobItem[],
  running: number,
  now: Date,
  settleMs: number,
): Promise<JobItem[]> {
  if (queued.length === 0) return [];
  const { Attributes: a = {} } = await deps.sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: deps.config.OBELM_JOBS_QUEUE_URL,
      AttributeNames: [
        'ApproximateNumberOfMessages',
        'ApproximateNumberOfMessagesNotVisible',
        'ApproximateNumberOfMessagesDelayed',
        'MessageRetentionPeriod',
      ],
    }),
  );
  const count = (name: QueueAttributeName) => Number(a[name] ?? 0);
  const inQueue =
    count('ApproximateNumberOfMessages') +
    count('ApproximateNumberOfMessagesNotVisible') +
    count('ApproximateNumberOfMessagesDelayed');
  const retentionMs = count('MessageRetentionPeriod') * 1000;
  const age = (job: JobItem) => now.getTime() - lastSent(job);

  const settled = queued.filter((job) => age(job) >= settleMs).sort((x, y) => lastSent(x) - lastSent(y));
  const expired = retentionMs > 0 ? settled.filter((job) => age(job) > retentionMs) : [];
  const shortfall = Math.max(0, running + settled.length - inQueue);
  return [...new Set([...expired, ...settled.slice(0, shortfall)])];
}
