import {
  type BatchItem,
  type CreateBatchRequest,
  type CreateBatchResponse,
  endedJobKeepSeconds,
  newId,
  s3Keys,
  ttlAfter,
} from '@obelm/core';
import { putBatch } from '@obelm/store';
import type { Deps } from '../deps.ts';
import { imageUploadForm } from '../images/uploadForm.ts';
import { modelEntry, type PlanLimits } from '../jobs/plan.ts';
import { assertPlanSteps, modelIdOf, resolveParams } from '../jobs/resolve.ts';
import { checkWebhookUrl } from '../webhooks/guard.ts';

/**
 * POST /v1/batches: the batch's invert params resolved as an invert job's would be (the model's defaults and
 * limits, the caller's plan), its webhook URL checked by the delivery guard, then the batch item (open) and a
 * presigned POST form for keys under its prefix. Nothing is written before every check has passed.
 */
export async function createBatch(
  deps: Deps,
  caller: { tenant: string; limits: PlanLimits },
  req: CreateBatchRequest,
): Promise<{ batch: BatchItem; upload: CreateBatchResponse['upload'] }> {
  const { tenant, limits } = caller;
  const { expectedImages, contentType, webhook, metadata, ...settings } = req;
  const invert = { kind: 'invert' as const, ...settings };
  const model = await modelEntry(deps, tenant, modelIdOf(invert, undefined, deps.config.OBELM_DEFAULT_MODEL));
  const params = resolveParams(invert, model);
  assertPlanSteps(params, limits.maxSteps);
  if (webhook) {
    await checkWebhookUrl(webhook.url, { allowLoopback: deps.config.OBELM_WEBHOOK_ALLOW_LOOPBACK });
  }

  const now = deps.now();
  const batch: BatchItem = {
    id: newId('bat', now.getTime()),
    tenant,
    status: 'open',
    params,
    ...(expectedImages !== undefined ? { expectedImages } : {}),
    ...(webhook ? { webhook } : {}),
    ...(metadata ? { metadata } : {}),
    jobs: 0,
    createdAt: now.toISOString(),
    updatedAt: now.toISOString(),
    // Kept as long as the outputs its jobs write; completion keeps it that long again from its end.
    ttl: ttlAfter(now, endedJobKeepSeconds(deps.config.OBELM_OUTPUT_RETENTION_DAYS)),
  };
  // Any key under the batch's prefix: the form's `key` field is the prefix and `${filename}`, which the caller
  // replaces with the image's name or leaves to S3.
  const key = `${s3Keys.batchPrefix(batch.tenant, batch.id)}\${filename}`;
  const upload = await imageUploadForm(deps, key, contentType, now);
  await putBatch(deps.store, batch);
  return { batch, upload };
}
