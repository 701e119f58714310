import {
  endBilling,
  endedJobKeepSeconds,
  type JobDispatch,
  type JobError,
  type JobItem,
  type JobUpdate,
  jobTransitions,
  notFound,
  priceOf,
  ttlAfter,
} from '@obelm/core';
import type { Deps } from '../deps.ts';

/** Job items for the handlers: reads, and core's transitions (transitions.ts) through the store's JobTable. */

/** What a new job is made of; the rest is the same for every job accepted (`acceptedJob`). */
export type NewJob = Pick<
  JobItem,
  'id' | 'tenant' | 'params' | 'inputs' | 'metadata' | 'webhook' | 'batch'
> & {
  dispatch: JobDispatch;
};

/**
 * The item of a job accepted at `now`: queued, at the stage's price for its model (kept on the job, so a price
 * change never reprices accepted work), expiring after OBELM_JOB_TTL_SECONDS if no worker takes it.
 */
export function acceptedJob(deps: Deps, fields: NewJob, now: Date): JobItem & { dispatch: JobDispatch } {
  const { metadata, webhook, batch, ...required } = fields;
  return {
    ...required,
    status: 'queued',
    ...(metadata ? { metadata } : {}),
    ...(webhook ? { webhook } : {}),
    ...(batch ? { batch } : {}),
    attempts: 0,
    createdAt: now.toISOString(),
    updatedAt: now.toISOString(),
    price: priceOf(deps.config.OBELM_PRICES, fields.params.model),
    ttl: ttlAfter(now, deps.config.OBELM_JOB_TTL_SECONDS),
  };
}

export async function putNewJob(deps: Deps, job: JobItem & { dispatch: JobDispatch }): Promise<void> {
  await deps.store.jobs.put(jobTransitions.create(job));
}

export const getJob = (deps: Deps, jobId: string): Promise<JobItem | undefined> => deps.store.jobs.get(jobId);

/** A job of this tenant, or 404: another tenant's job is indistinguishable from a missing one. */
export async function getTenantJob(deps: Deps, tenant: string, jobId: string): Promise<JobItem> {
  const job = await getJob(deps, jobId);
  if (!job || job.tenant !== tenant) throw notFound('job_not_found', `No job '${jobId}'`, { jobId });
  return job;
}

/**
 * Applies a transition: the new item, or undefined when its condition failed (the job moved meanwhile; the
 * caller reads it again and decides).
 */
export const applyTransition = (deps: Deps, update: JobUpdate): Promise<JobItem | undefined> =>
  deps.store.jobs.apply(update);

/** Epoch seconds until which an ended job item is kept (DynamoDB TTL), from now. */
export const endedTtl = (deps: Deps): number =>
  ttlAfter(deps.now(), endedJobKeepSeconds(deps.config.OBELM_OUTPUT_RETENTION_DAYS));

export const failQueuedJob = (deps: Deps, job: JobItem, error: JobError) =>
  applyTransition(
    deps,
    jobTransitions.fail(job.id, { status: 'queued' }, deps.now(), {
      error,
      ttl: endedTtl(deps),
      billing: endBilling(job, 'failed', deps.now()),
    }),
  );
