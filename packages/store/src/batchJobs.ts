import { BatchGetCommand, paginateQuery, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { dbKeys, type JobItem } from '@obelm/core';
import type { StoreContext } from './context.ts';

/**
 * The jobs a batch started, read through its pointers (`dbKeys.batchJob`, one item per job in the batch's own
 * partition): one Query lists them, BatchGet reads the jobs. Reads only; the writes are in batches.ts.
 */

/** One job of a batch: written before the job itself, so a batch never misses a job it started. */
export interface BatchJobPointer {
  batchId: string;
  jobId: string;
  /** The object the job inverts. */
  key: string;
  createdAt: string;
  ttl: number;
}

/** BatchGetItem's largest request. */
const BATCH_GET_MAX = 100;

/** A page of a batch's pointers in job-id order, from after `startJobId`; `last` when more may follow. */
export async function batchJobPage(
  ctx: StoreContext,
  batchId: string,
  limit: number,
  startJobId?: string,
): Promise<{ pointers: BatchJobPointer[]; lastJobId?: string }> {
  const page = await ctx.db.send(
    new QueryCommand({
      TableName: ctx.table,
      ...pointerCondition(batchId),
      ConsistentRead: true,
      Limit: limit,
      ...(startJobId ? { ExclusiveStartKey: dbKeys.batchJob(batchId, startJobId) } : {}),
    }),
  );
  const pointers = (page.Items ?? []) as BatchJobPointer[];
  const lastJobId = page.LastEvaluatedKey ? pointers.at(-1)?.jobId : undefined;
  return lastJobId ? { pointers, lastJobId } : { pointers };
}

/** Every pointer of a batch (Query pages of up to 1 MB: thousands of images are a few pages). */
export async function batchJobPointers(ctx: StoreContext, batchId: string): Promise<BatchJobPointer[]> {
  const pointers: BatchJobPointer[] = [];
  const input = { TableName: ctx.table, ...pointerCondition(batchId), ConsistentRead: true };
  for await (const page of paginateQuery({ client: ctx.db }, input)) {
    pointers.push(...((page.Items ?? []) as BatchJobPointer[]));
  }
  return pointers;
}

/**
 * How many jobs a batch has started (Select COUNT: no items returned, but DynamoDB reads the pointers, so a
 * count costs about one read unit per 25 pointers; fine for the thousands of images a batch is meant for).
 */
export async function countBatchJobs(ctx: StoreContext, batchId: string): Promise<number> {
  let count = 0;
  const input = {
    TableName: ctx.table,
    ...pointerCondition(batchId),
    ConsistentRead: true,
    Select: 'COUNT' as const,
  };
  for await (const page of paginateQuery({ client: ctx.db }, input)) count += page.Count ?? 0;
  return count;
}

/**
 * Job items by id (strongly consistent, 100 per BatchGetItem, unprocessed keys asked again); a missing job is
 * absent from the map. `attributes` limits what is read (e.g. only the status, for counts).
 */
export async function getJobsById(
  ctx: StoreContext,
  ids: readonly string[],
  attributes?: readonly (keyof JobItem)[],
): Promise<Map<string, JobItem>> {
  const jobs = new Map<string, JobItem>();
  const projection = attributes
    ? {
        ProjectionExpression: ['id', ...attributes].map((a) => `#${a}`).join(', '),
        ExpressionAttributeNames: Object.fromEntries(['id', ...attributes].map((a) => [`#${a}`, a])),
      }
    : {};
  for (let at = 0; at < ids.length; at += BATCH_GET_MAX) {
    let keys: Record<string, unknown>[] = ids.slice(at, at + BATCH_GET_MAX).map((id) => dbKeys.job(id));
    for (let tries = 0; keys.length > 0; tries++) {
      if (tries > 0) await new Promise((resolve) => setTimeout(resolve, Math.min(1000, 50 * 2 ** tries)));
      const out = await ctx.db.send(
        new BatchGetCommand({
          RequestItems: { [ctx.table]: { Keys: keys, ConsistentRead: true, ...projection } },
        }),
      );
      for (const item of (out.Responses?.[ctx.table] ?? []) as JobItem[]) jobs.set(item.id, item);
      keys = (out.UnprocessedKeys?.[ctx.table]?.Keys ?? []) as Record<string, unknown>[];
    }
  }
  return jobs;
}

function pointerCondition(batchId: string) {
  return {
    KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
    ExpressionAttributeValues: { ':pk': dbKeys.batch(batchId).pk, ':prefix': dbKeys.batchJobPrefix },
  };
}
