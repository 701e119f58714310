import {
  ApiError,
  type BatchItem,
  effectiveLimits,
  isConditionFailed,
  JOB_WEBHOOK_EVENTS,
  type JobError,
  type Logger,
  type TenantLimits,
  ttlAfter,
  type WebhookSpec,
} from '@obelm/core';
import {
  batchKeepSeconds,
  countAndClose,
  deleteBatchJobPointer,
  getBatch,
  getBatchJobPointer,
  getTenant,
  putBatchJobPointer,
  relayEndOrLog,
  releaseHeldOrLog,
  sendJobMessage,
} from '@obelm/store';
import type { Deps } from '../deps.ts';
import { type Admission, admitJob } from '../jobs/admission.ts';
import { acceptedJob, failQueuedJob, putNewJob } from '../jobs/store.ts';
import { batchJobId, batchObjectOf, type CreatedObject } from './s3Event.ts';

/** What an object's event did: started its job, found it started already, or was not for an open batch. */
export type TriggerOutcome = 'started' | 'existing' | 'ignored';

/**
 * One object created under a batch's prefix becomes one invert job with the batch's params, its input the
 * object itself. The writes are ordered so that an event retried after a crash (SQS redelivers it) finishes
 * what the first attempt began, and a second event for the same version (S3 may send two) changes nothing:
 * 1. the batch's pointer to the job (conditional): from then on the batch waits for this job;
 * 2. the job (conditional on its id, derived from the object version: s3Event.ts `batchJobId`), admitted as a
 *    createJob is, then its message if it was sent;
 * 3. the batch's job count, recounted from the pointers (only ever raised), and its close once `expectedImages`
 *    is reached (store countAndClose).
 * An object of a batch that is not open is ignored, unless its pointer shows that an earlier attempt began it
 * before the batch closed (and it has not completed since).
 */
export async function startBatchJob(deps: Deps, object: CreatedObject, log: Logger): Promise<TriggerOutcome> {
  const where = object.bucket === deps.config.OBELM_BUCKET ? batchObjectOf(object.key) : undefined;
  const fields = { bucket: object.bucket, key: object.key };
  if (!where) {
    log.warn('batch trigger: not a batch object; ignored', fields);
    return 'ignored';
  }
  const batch = await getBatch(deps.store, where.batchId);
  if (!batch || batch.tenant !== where.tenant) {
    log.warn('batch trigger: no such batch; ignored', { ...fields, batchId: where.batchId });
    return 'ignored';
  }
  const jobId = batchJobId(object);
  const logged = { ...fields, batchId: batch.id, tenant: batch.tenant, jobId };
  const tenant = await getTenant(deps.store, batch.tenant);
  if (tenant?.status === 'suspended') {
    log.warn('batch trigger: the tenant is suspended; ignored', logged);
    return 'ignored';
  }

  const pointer = await getBatchJobPointer(deps.store, batch.id, jobId);
  if (!pointer || batch.status === 'completed') {
    if (batch.status !== 'open') {
      log.warn(`batch trigger: the batch is ${batch.status}; ignored`, logged);
      return 'ignored';
    }
    const now = deps.now();
    const pointed = await putBatchJobPointer(deps.store, {
      batchId: batch.id,
      jobId,
      key: object.key,
      createdAt: now.toISOString(),
      ttl: ttlAfter(now, batchKeepSeconds(batch)),
    });
    // Completed between the read above and the pointer (closed and finished meanwhile): too late to join.
    if (pointed && (await getBatch(deps.store, batch.id))?.status === 'completed') {
      await deleteBatchJobPointer(deps.store, batch.id, jobId);
      log.warn('batch trigger: the batch completed meanwhile; ignored', logged);
      return 'ignored';
    }
  }

  const limits = effectiveLimits(deps.store.defaultLimits, tenant);
  const started = await createBatchJob(deps, batch, object, jobId, limits, log);
  await countAndClose(deps.store, batch);
  return started ? 'started' : 'existing';
}

/** Puts the job of an object version and dispatches it; false when it existed already (a repeated event). */
async function createBatchJob(
  deps: Deps,
  batch: BatchItem,
  object: CreatedObject,
  jobId: string,
  limits: TenantLimits,
  log: Logger,
): Promise<boolean> {
  if (await deps.store.jobs.get(jobId)) return false;
  const now = deps.now();
  const { admission, refused } = await admitBatchJob(deps, batch.tenant, limits, now);
  const job = acceptedJob(
    deps,
    {
      id: jobId,
      tenant: batch.tenant,
      params: batch.params,
      inputs: [{ type: 'image', key: object.key }],
      metadata: batch.metadata,
      webhook: jobWebhook(batch),
      batch: { id: batch.id, key: object.key, ...(object.versionId ? { versionId: object.versionId } : {}) },
      dispatch: admission.dispatch,
    },
    now,
  );
  try {
    await putNewJob(deps, job);
  } catch (error) {
    if (isConditionFailed(error)) return false; // a concurrent event of the same version put it
    throw error;
  }
  const logged = { jobId, tenant: job.tenant, batchId: batch.id };
  if (refused) {
    // The image is not lost silently: its job ends failed and shows in the batch's summary.
    const failed = await failQueuedJob(deps, job, refused);
    if (failed) await relayEndOrLog(deps.store, failed, log);
  } else if (job.dispatch === 'sent') {
    try {
      await sendJobMessage(deps.store, job);
    } catch (error) {
      // The job is in the table as sent: the sweeper's lost-message rule sends it (sweeper.ts).
      log.warn('batch trigger: the job message was not sent; the sweeper will', {
        ...logged,
        error: String(error),
      });
    }
  } else if (admission.fillFreeSlot) {
    await releaseHeldOrLog(deps.store, job.tenant, log.child(logged));
  }
  await deps.fleet?.nudge();
  log.info('batch trigger: job created', { ...logged, key: object.key, dispatch: job.dispatch });
  return true;
}

/**
 * createJob's admission (admission.ts), but an image already in S3 is never refused: over `maxActiveJobs` it
 * waits in the table (held, released as the tenant's jobs end); over a monthly budget its job is created and
 * fails at once (`quota_exceeded`), so the summary shows it.
 */
async function admitBatchJob(
  deps: Deps,
  tenant: string,
  limits: TenantLimits,
  now: Date,
): Promise<{ admission: Admission; refused?: JobError }> {
  try {
    return { admission: await admitJob(deps, tenant, limits, now) };
  } catch (error) {
    if (!(error instanceof ApiError)) throw error;
    if (error.code === 'concurrency_limit') return { admission: { dispatch: 'held', fillFreeSlot: true } };
    if (error.code === 'quota_exceeded') {
      return {
        admission: { dispatch: 'held', fillFreeSlot: false },
        refused: { code: error.code, message: error.message },
      };
    }
    throw error;
  }
}

/** The job events a batch's webhook subscribes to (besides batch.completed) go to each of its jobs too. */
function jobWebhook(batch: BatchItem): WebhookSpec | undefined {
  const events = batch.webhook?.events?.filter((e) => (JOB_WEBHOOK_EVENTS as readonly string[]).includes(e));
  return batch.webhook && events?.length ? { url: batch.webhook.url, events } : undefined;
}
