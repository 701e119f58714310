import { PutCommand } from '@aws-sdk/lib-dynamodb';
import {
  dbKeys,
  describeError,
  isConditionFailed,
  isTerminal,
  type JobItem,
  jobTransitions,
  type Logger,
  type TerminalStatus,
  usageEntryOf,
} from '@obelm/core';
import { onBatchJobEnded } from './batchCompletion.ts';
import type { StoreContext } from './context.ts';
import { releaseHeld } from './dispatch.ts';
import { recordModelPace } from './modelPace.ts';
import { enqueueWebhookEvent, jobWebhookEvent } from './webhooks.ts';

/**
 * What follows a job's end (the outbox its terminal transition opened with `outboxPending`): its usage entry,
 * its model's pace (modelPace.ts),
 * its webhook event when its webhook subscribes to it (webhooks.ts), the release of its tenant's held jobs into
 * the slot it freed, then `outboxDone`. Idempotent, and safe to run twice or concurrently (the worker or API
 * that ended the job, a duplicate message's worker, the sweeper):
 * - the amount is not computed here: it is the `billing` the terminal transition wrote in the same conditional
 *   update that ended the job, which cannot happen twice (core billing.ts `usageEntryOf`);
 * - the entry's key is the job id, and its put is conditional on that key being free: a second put fails its
 *   condition and changes nothing. No transaction is needed (and dynalite has none);
 * - `outboxDone` comes last, so a crash anywhere before it leaves the flag set and the sweeper runs this again.
 */
export async function relayEnd(ctx: StoreContext, job: JobItem): Promise<void> {
  if (!isTerminal(job.status) || !job.outboxPending) return;
  await putUsageEntry(ctx, job);
  // The model's measured pace (queue estimates). A relay run twice counts the job twice: an estimate's noise.
  await recordModelPace(ctx, job);
  // Put once under the end event's id (the webhook-id): a relay run again never makes a second delivery.
  const webhookEvent = jobWebhookEvent(job);
  if (webhookEvent) await enqueueWebhookEvent(ctx, webhookEvent);
  await releaseHeld(ctx, job.tenant);
  // A batch's last job ending completes the batch (summary.json, batch.completed).
  if (job.batch) await onBatchJobEnded(ctx, job);
  await ctx.jobs.apply(jobTransitions.outboxDone(job.id, job.status as TerminalStatus));
}

/**
 * `relayEnd` as the callers that just ended a job run it: best effort. Their job has ended whatever happens
 * here, so a failure is logged and left to the sweeper, which finishes every end still `outboxPending`.
 */
export async function relayEndOrLog(ctx: StoreContext, job: JobItem, log: Logger = ctx.log): Promise<void> {
  try {
    await relayEnd(ctx, job);
  } catch (error) {
    log.warn('job end not relayed; the sweeper will finish it', { jobId: job.id, ...describeError(error) });
  }
}

/** Writes the job's usage entry unless it is there already (a condition failure: recorded before, fine). */
async function putUsageEntry(ctx: StoreContext, job: JobItem): Promise<void> {
  const entry = usageEntryOf(job);
  try {
    await ctx.db.send(
      new PutCommand({
        TableName: ctx.table,
        Item: { ...dbKeys.usageEntry(entry.tenant, entry.month, entry.jobId), ...entry },
        ConditionExpression: 'attribute_not_exists(pk)',
      }),
    );
  } catch (error) {
    if (!isConditionFailed(error)) throw error;
  }
}
