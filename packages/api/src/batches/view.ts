import { GetObjectCommand } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { type BatchItem, type BatchView, s3Keys, subscribedEvents } from '@obelm/core';
import { batchJobPointers, getJobsById, getWebhookDelivery, toWebhookDelivery } from '@obelm/store';
import type { Deps } from '../deps.ts';

/**
 * The public view of a batch (GET /v1/batches/{id}, and the `data` of its batch.completed event): its jobs
 * counted by status (its pointers, then the jobs' statuses: a Query and one BatchGet per 100 jobs), and once it
 * is complete a fresh presigned link to summary.json and its webhook delivery.
 */
export async function toBatchView(deps: Deps, batch: BatchItem): Promise<BatchView> {
  const pointers = await batchJobPointers(deps.store, batch.id);
  const jobs = await getJobsById(
    deps.store,
    pointers.map((p) => p.jobId),
    ['status'],
  );
  const counts: Record<string, number> = {};
  for (const job of jobs.values()) counts[job.status] = (counts[job.status] ?? 0) + 1;

  const seconds = deps.config.OBELM_PRESIGN_SECONDS;
  const summary = batch.summary
    ? {
        url: await getSignedUrl(
          deps.s3,
          new GetObjectCommand({ Bucket: deps.config.OBELM_BUCKET, Key: batch.summary }),
          { expiresIn: seconds },
        ),
        expiresAt: new Date(deps.now().getTime() + seconds * 1000).toISOString(),
      }
    : undefined;
  const delivery = batch.endEvent ? await getWebhookDelivery(deps.store, batch.endEvent.id) : undefined;

  return {
    id: batch.id,
    status: batch.status,
    prefix: s3Keys.batchPrefix(batch.tenant, batch.id),
    ...(batch.expectedImages !== undefined ? { expectedImages: batch.expectedImages } : {}),
    counts,
    jobs: pointers.length,
    ...(summary ? { summary } : {}),
    ...(batch.webhook
      ? {
          webhook: {
            url: batch.webhook.url,
            events: [...subscribedEvents(batch.webhook, 'batch')],
            deliveries: delivery ? [toWebhookDelivery(delivery)] : [],
          },
        }
      : {}),
    createdAt: batch.createdAt,
    ...(batch.closedAt ? { closedAt: batch.closedAt } : {}),
    ...(batch.completedAt ? { completedAt: batch.completedAt } : {}),
  };
}
