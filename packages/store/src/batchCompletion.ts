import { PutObjectCommand } from '@aws-sdk/client-s3';
import {
  type BatchItem,
  type BatchSummary,
  type BatchSummaryEntry,
  batchEndEventId,
  isTerminal,
  type JobItem,
  QUEUES,
  s3Keys,
  subscribedEvents,
  ttlAfter,
} from '@obelm/core';
import { batchOutboxDone, closeBatch, completeBatch, getBatch, raiseBatchJobCount } from './batches.ts';
import { type BatchJobPointer, batchJobPointers, countBatchJobs, getJobsById } from './batchJobs.ts';
import type { StoreContext } from './context.ts';
import { enqueueWebhookEvent } from './webhooks.ts';

/**
 * A batch completes once it is closed and every job it started has ended: summary.json is written, then the
 * conditional update closed -> completed records its end event and opens its outbox (`outboxPending`), then the
 * outbox is done: the `batch.completed` webhook enqueued if subscribed, and the flag cleared. Whoever may see the
 * last of those conditions runs `completeBatchIfDone`: a batch job's end (`onBatchJobEnded`, from the job's
 * outbox relay), the close (API, or the trigger reaching `expectedImages`) and the sweeper. Every step is
 * idempotent: summary.json is built from ended jobs only, so a second writer writes the same bytes; the update
 * happens once; the webhook event's id is the batch's, so enqueueing it twice sends one event.
 */

/**
 * How long a pointer may wait for its job: the trigger writes the pointer first and the job right after, and
 * retries the whole event (up to the batch queue's receive count) if it fails between the two. A pointer older
 * than every retry whose job is still missing never got one (the event went to the DLQ): its image counts as a
 * failed entry, so the batch can still complete.
 */
export const BATCH_JOB_START_GRACE_MS =
  2 * QUEUES.batch.visibilityTimeoutSeconds * QUEUES.batch.maxReceiveCount * 1000;

/**
 * How long a batch's items are kept past their last write: the window its creation set (createBatch: as long as
 * the stage keeps outputs), so a batch completing late is still kept as long as the outputs it just made.
 */
export const batchKeepSeconds = (batch: Pick<BatchItem, 'createdAt' | 'ttl'>): number =>
  batch.ttl - Math.floor(Date.parse(batch.createdAt) / 1000);

/** After a job of a batch ended (store outbox.ts relayEnd, before outboxDone): the batch may be complete now. */
export async function onBatchJobEnded(ctx: StoreContext, job: JobItem): Promise<void> {
  if (!job.batch) return;
  const batch = await getBatch(ctx, job.batch.id);
  if (batch) await completeBatchIfDone(ctx, batch);
}

/** Completes a closed batch whose jobs have all ended, and finishes a completed batch's pending outbox. */
export async function completeBatchIfDone(ctx: StoreContext, batch: BatchItem): Promise<BatchItem> {
  if (batch.status === 'completed') {
    if (batch.outboxPending) await relayBatchEnd(ctx, batch);
    return batch;
  }
  if (batch.status !== 'closed') return batch;
  const now = ctx.now();
  const summary = await summaryIfEnded(ctx, batch, now);
  if (!summary) return batch;
  const summaryKey = s3Keys.batchSummary(batch.tenant, batch.id);
  await ctx.s3.send(
    new PutObjectCommand({
      Bucket: ctx.bucket,
      Key: summaryKey,
      Body: `${JSON.stringify(summary, null, 2)}\n`,
      ContentType: 'application/json',
    }),
  );
  const completed = await completeBatch(ctx, batch.id, {
    summary: summaryKey,
    endEvent: { id: batchEndEventId(batch.id), type: 'batch.completed', at: now.toISOString() },
    ttl: ttlAfter(now, batchKeepSeconds(batch)),
  });
  // Completed by another caller meanwhile: it relays the end too; relaying it here as well is harmless.
  const latest = completed ?? (await getBatch(ctx, batch.id)) ?? batch;
  if (latest.status === 'completed' && latest.outboxPending) await relayBatchEnd(ctx, latest);
  return latest;
}

/**
 * Records how many jobs an open batch has started (recounted from its pointers: a count that a crash kept from
 * being recorded is recorded by the next caller) and closes it once `expectedImages` is reached, completing it
 * if its jobs have all ended. Run by the trigger after each new pointer, and by the sweeper. The batch closed
 * here, or undefined.
 */
export async function countAndClose(ctx: StoreContext, batch: BatchItem): Promise<BatchItem | undefined> {
  const count = await countBatchJobs(ctx, batch.id);
  await raiseBatchJobCount(ctx, batch.id, count, ctx.now());
  if (batch.expectedImages === undefined || count < batch.expectedImages) return undefined;
  const closed = await closeBatch(ctx, batch.id, ctx.now());
  if (!closed) return undefined;
  ctx.log.info('batch closed: expectedImages reached', { batchId: batch.id, tenant: batch.tenant, count });
  return completeBatchIfDone(ctx, closed);
}

/** The completed batch's outbox: its `batch.completed` event to its webhook (if subscribed), then done. */
async function relayBatchEnd(ctx: StoreContext, batch: BatchItem): Promise<void> {
  const { webhook, endEvent } = batch;
  if (webhook && endEvent && subscribedEvents(webhook, 'batch').includes('batch.completed')) {
    await enqueueWebhookEvent(ctx, {
      eventId: endEvent.id,
      type: endEvent.type,
      tenant: batch.tenant,
      subject: { kind: 'batch', id: batch.id },
      url: webhook.url,
      occurredAt: endEvent.at,
    });
  }
  await batchOutboxDone(ctx, batch.id);
}

/** The batch's summary if every job it started has ended (or never will start); undefined otherwise. */
async function summaryIfEnded(
  ctx: StoreContext,
  batch: BatchItem,
  now: Date,
): Promise<BatchSummary | undefined> {
  const pointers = await batchJobPointers(ctx, batch.id);
  const jobs = await getJobsById(
    ctx,
    pointers.map((p) => p.jobId),
  );
  const images: BatchSummaryEntry[] = [];
  for (const pointer of pointers) {
    const entry = summaryEntry(pointer, jobs.get(pointer.jobId), now);
    if (!entry) return undefined;
    images.push(entry);
  }
  images.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : a.jobId < b.jobId ? -1 : 1));
  const counts: Record<string, number> = {};
  for (const status of [...new Set(images.map((i) => i.status))].sort()) {
    counts[status] = images.filter((i) => i.status === status).length;
  }
  return { batchId: batch.id, prefix: s3Keys.batchPrefix(batch.tenant, batch.id), counts, images };
}

/** An image's line once its job has ended; undefined while it may still run. */
function summaryEntry(
  pointer: BatchJobPointer,
  job: JobItem | undefined,
  now: Date,
): BatchSummaryEntry | undefined {
  if (!job) {
    if (now.getTime() - Date.parse(pointer.createdAt) < BATCH_JOB_START_GRACE_MS) return undefined;
    return {
      key: pointer.key,
      jobId: pointer.jobId,
      status: 'failed',
      error: { code: 'job_not_started', message: 'The object event was not turned into a job' },
    };
  }
  if (!isTerminal(job.status)) return undefined;
  return {
    key: pointer.key,
    jobId: job.id,
    status: job.status,
    ...(job.error ? { error: { code: job.error.code, message: job.error.message } } : {}),
    ...(job.outputs?.noise ? { noise: job.outputs.noise } : {}),
    ...(job.metrics?.latentMaxAbsError !== undefined
      ? { latentMaxAbsError: job.metrics.latentMaxAbsError }
      : {}),
    ...(job.billing ? { billing: job.billing } : {}),
  };
}
