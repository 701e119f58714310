import { GetObjectCommand } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import {
  ERROR_MAP_SCALE,
  type JobItem,
  type JobView,
  type OutputLink,
  subscribedEvents,
  type WebhookSpec,
} from '@obelm/core';
import { getWebhookDelivery, jobWebhookEvent, toWebhookDelivery } from '@obelm/store';
import type { Deps } from '../deps.ts';
import type { JobEstimate } from './eta.ts';

/**
 * The public view of a job item: internal fields dropped, every output a fresh presigned GET URL; with an
 * `estimate` (jobs/eta.ts: GET /v1/jobs/{id} only, the lists spare its reads), a queued job's place and start, a
 * running one's finish.
 */
export async function toJobView(deps: Deps, job: JobItem, estimate?: JobEstimate): Promise<JobView> {
  const seconds = deps.config.OBELM_PRESIGN_SECONDS;
  const expiresAt = new Date(deps.now().getTime() + seconds * 1000).toISOString();
  const link = async (key: string): Promise<OutputLink> => ({
    url: await getSignedUrl(deps.s3, new GetObjectCommand({ Bucket: deps.config.OBELM_BUCKET, Key: key }), {
      expiresIn: seconds,
    }),
    expiresAt,
  });
  const out = job.outputs;
  const outputs: JobView['outputs'] = out
    ? {
        ...(out.image ? { image: await link(out.image) } : {}),
        ...(out.images ? { images: await Promise.all(out.images.map(link)) } : {}),
        ...(out.noise ? { noise: await link(out.noise) } : {}),
        ...(out.report ? { report: await link(out.report) } : {}),
        ...(out.errorMap
          ? { errorMap: { ...(await link(out.errorMap)), scale: { ...ERROR_MAP_SCALE } } }
          : {}),
      }
    : undefined;
  return {
    id: job.id,
    kind: job.params.kind,
    status: job.status,
    model: job.params.model,
    params: job.params,
    ...(job.progress ? { progress: job.progress } : {}),
    ...(job.status === 'queued' && estimate?.queue ? { queue: estimate.queue } : {}),
    ...(job.status === 'running' && estimate?.endMs !== undefined
      ? { estimatedFinishAt: new Date(Math.max(estimate.endMs, deps.now().getTime())).toISOString() }
      : {}),
    ...(outputs ? { outputs } : {}),
    ...(job.metrics ? { metrics: job.metrics } : {}),
    ...(job.error ? { error: { code: job.error.code, message: job.error.message } } : {}),
    ...(job.metadata ? { metadata: job.metadata } : {}),
    ...(job.cancelRequested ? { cancelRequested: true } : {}),
    ...(job.billing
      ? {
          billing: {
            gpuMs: job.billing.gpuMs,
            amountMicros: job.billing.amountMicros,
            currency: job.billing.currency,
          },
        }
      : {}),
    createdAt: job.createdAt,
    ...(job.startedAt ? { startedAt: job.startedAt } : {}),
    ...(job.finishedAt ? { finishedAt: job.finishedAt } : {}),
    ...(job.finishedAt && !job.deletedAt
      ? { outputsExpireAt: outputsExpireAt(job.finishedAt, deps.config.OBELM_OUTPUT_RETENTION_DAYS) }
      : {}),
    ...(job.deletedAt ? { deletedAt: job.deletedAt } : {}),
    ...(job.webhook ? { webhook: await webhookView(deps, job, job.webhook) } : {}),
    ...(job.batch ? { batchId: job.batch.id } : {}),
  };
}

/** The job's webhook, its events with the defaults applied, and once it has ended the delivery of its event. */
async function webhookView(deps: Deps, job: JobItem, spec: WebhookSpec): Promise<JobView['webhook']> {
  const event = jobWebhookEvent(job);
  const delivery = event && (await getWebhookDelivery(deps.store, event.eventId));
  return {
    url: spec.url,
    events: [...subscribedEvents(spec, 'job')],
    ...(delivery ? { delivery: toWebhookDelivery(delivery) } : {}),
  };
}

const DAY_MS = 24 * 3600 * 1000;

/**
 * When the bucket's lifecycle rule (infra/bucket.ts: `jobs/` objects expire `retentionDays` after creation) has
 * expired every object of a job that ended at `finishedAt`. S3 dates an object's expiry at its creation plus the
 * days, rounded up to the next midnight UTC; a job's inputs and outputs are all written before it ends, so none
 * expires later than this (inputs, written at creation, may expire earlier). S3 removes expired objects
 * asynchronously, so a link can keep working a little past it. The caller deletes them sooner with DELETE.
 */
export function outputsExpireAt(finishedAt: string, retentionDays: number): string {
  const expiry = new Date(Date.parse(finishedAt) + retentionDays * DAY_MS);
  return new Date(
    Date.UTC(expiry.getUTCFullYear(), expiry.getUTCMonth(), expiry.getUTCDate() + 1),
  ).toISOString();
}
