import { GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import {
  dbKeys,
  isConditionFailed,
  type JobError,
  type JobItem,
  type JobUpdate,
  jobTransitions,
  notFound,
  ttlAfter,
} from '@obelm/core';
import type { Deps } from '../deps.ts';

/** Job items in the single table: reads, and the writes of core's transitions (transitions.ts). */

export async function putNewJob(deps: Deps, job: JobItem): Promise<void> {
  await deps.db.send(new PutCommand({ TableName: deps.config.OBELM_TABLE, ...jobTransitions.create(job) }));
}

export async function getJob(deps: Deps, jobId: string): Promise<JobItem | undefined> {
  const { Item } = await deps.db.send(
    new GetCommand({ TableName: deps.config.OBELM_TABLE, Key: dbKeys.job(jobId), ConsistentRead: true }),
  );
  return Item as JobItem | undefined;
}

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
export async function applyTransition(deps: Deps, update: JobUpdate): Promise<JobItem | undefined> {
  const { from: _from, to: _to, ...input } = update;
  try {
    const { Attributes } = await deps.db.send(
      new UpdateCommand({ TableName: deps.config.OBELM_TABLE, ReturnValues: 'ALL_NEW', ...input }),
    );
    return Attributes as JobItem;
  } catch (err) {
    if (isConditionFailed(err)) return undefined;
    throw err;
  }
}

/** Epoch seconds until which an ended job item is kept (DynamoDB TTL), from now. */
export const endedTtl = (deps: Deps): number => ttlAfter(deps.now(), deps.config.OBELM_JOB_TTL_SECONDS);

export const failQueuedJob = (deps: Deps, jobId: string, error: JobError) =>
  applyTransition(
    deps,
    jobTransitions.fail(jobId, { status: 'queued' }, deps.now(), { error, ttl: endedTtl(deps) }),
  );
