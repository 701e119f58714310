import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import { dbKeys, isStale, type JobItem, jobTransitions } from '@obelm/core';
import type { Deps } from './deps.ts';
import { enqueueJob } from './jobs/queue.ts';
import { applyTransition, endedTtl } from './jobs/store.ts';

export interface SweepOptions {
  /** A running job whose last heartbeat is older than this is taken back from its (dead) worker. */
  staleAfterMs: number;
}

export interface SweepReport {
  /** Queued jobs whose message was sent again. */
  requeued: string[];
  /** Running jobs with a stale heartbeat put back to queued and sent again. */
  recovered: string[];
  /** Queued jobs past their TTL, now expired. */
  expired: string[];
}

/**
 * Reconciles the table with the jobs queue: every queued job gets a message (again), a running job whose
 * worker stopped heartbeating goes back to queued (state.ts: running -> queued) and gets one, and a queued
 * job past its TTL expires. Duplicate messages are harmless: a worker claims a job with a conditional write.
 *
 * Run at local start (the stand-in queue is in memory and forgets across restarts) and, in the cloud, on a
 * schedule (a lost message, a crashed worker). It scans the table: fine for the local stack and small
 * tables; a large deployment would query a sparse "active jobs" index instead.
 */
export async function sweepJobs(deps: Deps, { staleAfterMs }: SweepOptions): Promise<SweepReport> {
  const report: SweepReport = { requeued: [], recovered: [], expired: [] };
  const now = deps.now();
  let start: Record<string, unknown> | undefined;
  do {
    const page = await deps.db.send(
      new ScanCommand({
        TableName: deps.config.OBELM_TABLE,
        FilterExpression: 'sk = :sk AND (#status = :queued OR #status = :running)',
        ExpressionAttributeNames: { '#status': 'status' },
        ExpressionAttributeValues: { ':sk': dbKeys.job('x').sk, ':queued': 'queued', ':running': 'running' },
        ExclusiveStartKey: start,
      }),
    );
    for (const job of (page.Items ?? []) as JobItem[]) {
      if (job.status === 'queued') {
        if (job.ttl * 1000 < now.getTime()) {
          const expired = await applyTransition(
            deps,
            jobTransitions.expire(job.id, now, { ttl: endedTtl(deps) }),
          );
          if (expired) report.expired.push(job.id);
        } else {
          await enqueueJob(deps, job);
          report.requeued.push(job.id);
        }
      } else {
        const seenHeartbeatAt = job.heartbeatAt ?? null;
        if (
          isStale(job, now, staleAfterMs) &&
          (await applyTransition(deps, jobTransitions.requeue(job.id, now, { seenHeartbeatAt })))
        ) {
          await enqueueJob(deps, job);
          report.recovered.push(job.id);
        }
      }
    }
    start = page.LastEvaluatedKey;
  } while (start);
  return report;
}
