import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import { badRequest, dbKeys, GSI1, IdSchema, type JobItem, type JobStatus } from '@obelm/core';
import { batchJobPage, getJobsById } from '@obelm/store';
import { getTenantBatch } from '../batches/lookup.ts';
import type { Deps } from '../deps.ts';
import { decodeCursor, encodeCursor, positionOf } from './cursor.ts';

interface ListQuery {
  status?: JobStatus | undefined;
  limit: number;
  cursor?: string | undefined;
}

export interface JobPage {
  jobs: JobItem[];
  nextCursor?: string;
}

/**
 * A tenant's jobs, newest first (gsi1 sorted by createdAt#id, read backwards). Each read asks for one item
 * more than still needed, so an unfiltered list knows exactly whether another page exists. A status filter
 * is applied by DynamoDB after `Limit`, so reading goes on until the page is full; then a cursor may lead to
 * an empty last page. The cursor is the position of the last job returned: nothing is skipped or repeated.
 */
export async function listJobs(
  deps: Deps,
  tenant: string,
  query: ListQuery & { batch?: string | undefined },
): Promise<JobPage> {
  if (query.batch) return listBatchJobs(deps, tenant, query.batch, query);
  const { status, limit, cursor } = query;
  const jobs: JobItem[] = [];
  let start: Record<string, unknown> | undefined = cursor ? { ...decodeCursor(cursor, tenant) } : undefined;
  let hasMore = false;
  const values: Record<string, unknown> = { ':pk': dbKeys.tenantJobsPartition(tenant) };
  if (status) values[':status'] = status;
  while (!hasMore) {
    const page = await deps.db.send(
      new QueryCommand({
        TableName: deps.config.OBELM_TABLE,
        IndexName: GSI1,
        KeyConditionExpression: 'gsi1pk = :pk',
        ScanIndexForward: false,
        Limit: limit - jobs.length + 1,
        ExclusiveStartKey: start,
        ExpressionAttributeValues: values,
        ...(status
          ? { FilterExpression: '#status = :status', ExpressionAttributeNames: { '#status': 'status' } }
          : {}),
      }),
    );
    for (const item of (page.Items ?? []) as JobItem[]) {
      if (jobs.length === limit) {
        hasMore = true;
        break;
      }
      jobs.push(item);
    }
    start = page.LastEvaluatedKey;
    if (!start) break;
    if (jobs.length === limit) hasMore = true;
  }
  const last = jobs.at(-1);
  return hasMore && last ? { jobs, nextCursor: encodeCursor(positionOf(last)) } : { jobs };
}

/**
 * The jobs of one of the tenant's batches (404 `batch_not_found` otherwise), in job-id order: a page of the
 * batch's pointers, then their jobs (BatchGet). Pages fill as listJobs's do (one pointer more than needed tells
 * whether another page exists; a status filter reads on), and the cursor is the last job id returned.
 */
async function listBatchJobs(
  deps: Deps,
  tenant: string,
  batchId: string,
  { status, limit, cursor }: ListQuery,
): Promise<JobPage> {
  await getTenantBatch(deps, tenant, batchId);
  const jobs: JobItem[] = [];
  let start = cursor ? decodeBatchCursor(cursor, batchId) : undefined;
  let hasMore = false;
  while (!hasMore) {
    const page = await batchJobPage(deps.store, batchId, limit - jobs.length + 1, start);
    const items = await getJobsById(
      deps.store,
      page.pointers.map((p) => p.jobId),
    );
    for (const pointer of page.pointers) {
      const job = items.get(pointer.jobId);
      // A pointer whose job is being created (or never was) is no job yet.
      if (!job || (status && job.status !== status)) continue;
      if (jobs.length === limit) {
        hasMore = true;
        break;
      }
      jobs.push(job);
    }
    start = page.lastJobId;
    if (!start) break;
    if (jobs.length === limit) hasMore = true;
  }
  const last = jobs.at(-1);
  return hasMore && last ? { jobs, nextCursor: encodeBatchCursor(batchId, last.id) } : { jobs };
}

const encodeBatchCursor = (batchId: string, jobId: string): string =>
  Buffer.from(JSON.stringify({ batch: batchId, after: jobId })).toString('base64url');

/** The job id a batch listing resumes after; a cursor of another listing (or forged) is a 400. */
function decodeBatchCursor(cursor: string, batchId: string): string {
  let c: { batch?: unknown; after?: unknown } | undefined;
  try {
    c = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {}
  if (c?.batch !== batchId || !IdSchema.safeParse(c.after).success) {
    throw badRequest('invalid_cursor', 'cursor is not a cursor returned by this API', { field: 'cursor' });
  }
  return c.after as string;
}
