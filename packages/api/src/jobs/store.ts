import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { dbKeys, type JobError, type JobItem, notFound } from '@obelm/core';
import type { Deps } from '../deps.ts';

/** Job items in the single table: the JobItem plus its primary and gsi1 keys. */

export const isConditionFailed = (err: unknown): boolean =>
  err instanceof ConditionalCheckFailedException ||
  (err as Error)?.name === 'ConditionalCheckFailedException';

export async function putNewJob(deps: Deps, job: JobItem): Promise<void> {
  await deps.db.send(
    new PutCommand({
      TableName: deps.config.OBELM_TABLE,
      Item: { ...dbKeys.job(job.id), ...dbKeys.jobByTenant(job.tenant, job.createdAt, job.id), ...job },
      ConditionExpression: 'attribute_not_exists(pk)',
    }),
  );
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
  if (!job || job.tenant !== tenant) throw notFound('job_not_found', `No job '${jobId}'`);
  return job;
}

/**
 * Conditional status change (state.ts): applies only while the job is still in `from`, so a racing worker
 * or API call never gets overwritten. Returns the new item, or undefined when the condition failed.
 */
export async function transitionJob(
  deps: Deps,
  jobId: string,
  from: JobItem['status'],
  set: Partial<Pick<JobItem, 'status' | 'cancelRequested' | 'finishedAt' | 'error'>>,
): Promise<JobItem | undefined> {
  const fields = { ...set, updatedAt: deps.now().toISOString() };
  const names: Record<string, string> = { '#status': 'status' };
  const values: Record<string, unknown> = { ':from': from };
  const assignments = Object.entries(fields).map(([name, value]) => {
    names[`#${name}`] = name;
    values[`:${name}`] = value;
    return `#${name} = :${name}`;
  });
  try {
    const { Attributes } = await deps.db.send(
      new UpdateCommand({
        TableName: deps.config.OBELM_TABLE,
        Key: dbKeys.job(jobId),
        UpdateExpression: `SET ${assignments.join(', ')}`,
        ConditionExpression: 'attribute_exists(pk) AND #status = :from',
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: values,
        ReturnValues: 'ALL_NEW',
      }),
    );
    return Attributes as JobItem;
  } catch (err) {
    if (isConditionFailed(err)) return undefined;
    throw err;
  }
}

export const failQueuedJob = (deps: Deps, jobId: string, error: JobError) =>
  transitionJob(deps, jobId, 'queued', { status: 'failed', error, finishedAt: deps.now().toISOString() });
