import { DeleteCommand, GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { type BatchEndEvent, type BatchItem, type BatchStatus, dbKeys, isConditionFailed } from '@obelm/core';
import type { BatchJobPointer } from './batchJobs.ts';
import type { StoreContext } from './context.ts';

/**
 * Batch items and their job pointers (core batches.ts): every write is conditional on the state it moves from,
 * so retries and concurrent callers (trigger events, job ends, close, the sweeper) change a batch once.
 * open -> closed (close, or `expectedImages` reached) -> completed (every job ended: completion.ts).
 */

export async function getBatch(ctx: StoreContext, batchId: string): Promise<BatchItem | undefined> {
  const { Item } = await ctx.db.send(
    new GetCommand({ TableName: ctx.table, Key: dbKeys.batch(batchId), ConsistentRead: true }),
  );
  return Item as BatchItem | undefined;
}

/** A new batch, listed under its tenant (gsi1); throws when the id is taken. */
export async function putBatch(ctx: StoreContext, batch: BatchItem): Promise<void> {
  await ctx.db.send(
    new PutCommand({
      TableName: ctx.table,
      Item: {
        ...dbKeys.batch(batch.id),
        ...dbKeys.batchByTenant(batch.tenant, batch.createdAt, batch.id),
        ...batch,
      },
      ConditionExpression: 'attribute_not_exists(pk)',
    }),
  );
}

/** A job's pointer, unless it is there already: true when this call wrote it. */
export async function putBatchJobPointer(ctx: StoreContext, pointer: BatchJobPointer): Promise<boolean> {
  try {
    await ctx.db.send(
      new PutCommand({
        TableName: ctx.table,
        Item: { ...dbKeys.batchJob(pointer.batchId, pointer.jobId), ...pointer },
        ConditionExpression: 'attribute_not_exists(pk)',
      }),
    );
    return true;
  } catch (error) {
    if (isConditionFailed(error)) return false;
    throw error;
  }
}

export async function getBatchJobPointer(
  ctx: StoreContext,
  batchId: string,
  jobId: string,
): Promise<BatchJobPointer | undefined> {
  const { Item } = await ctx.db.send(
    new GetCommand({ TableName: ctx.table, Key: dbKeys.batchJob(batchId, jobId), ConsistentRead: true }),
  );
  return Item as BatchJobPointer | undefined;
}

/** Takes back a pointer whose job was never created (the batch completed before it could be). */
export async function deleteBatchJobPointer(
  ctx: StoreContext,
  batchId: string,
  jobId: string,
): Promise<void> {
  await ctx.db.send(new DeleteCommand({ TableName: ctx.table, Key: dbKeys.batchJob(batchId, jobId) }));
}

/**
 * Records that a batch has started `count` jobs (counted from its pointers after writing one): only ever raised,
 * so concurrent triggers leave the largest count, which is the last one's and includes every pointer.
 */
export async function raiseBatchJobCount(
  ctx: StoreContext,
  batchId: string,
  count: number,
  now: Date,
): Promise<void> {
  try {
    await ctx.db.send(
      new UpdateCommand({
        TableName: ctx.table,
        Key: dbKeys.batch(batchId),
        UpdateExpression: 'SET #jobs = :count, #updatedAt = :now',
        ConditionExpression: 'attribute_exists(pk) AND #jobs < :count',
        ExpressionAttributeNames: { '#jobs': 'jobs', '#updatedAt': 'updatedAt' },
        ExpressionAttributeValues: { ':count': count, ':now': now.toISOString() },
      }),
    );
  } catch (error) {
    if (!isConditionFailed(error)) throw error;
  }
}

/** open -> closed: the closed batch, or undefined when it was not open. */
export function closeBatch(ctx: StoreContext, batchId: string, now: Date): Promise<BatchItem | undefined> {
  const at = now.toISOString();
  return updateBatch(ctx, batchId, 'open', 'SET #status = :to, #closedAt = :at, #updatedAt = :at', {
    names: { '#closedAt': 'closedAt', '#updatedAt': 'updatedAt' },
    values: { ':to': 'closed' satisfies BatchStatus, ':at': at },
  });
}

/**
 * closed -> completed, with its summary's key, its end event and `outboxPending` in the same conditional update
 * (the batch's outbox, as a job's end has one): a crash after it cannot lose the event, and a second completer
 * fails the condition. `ttl`: the item is kept as long as the outputs. Undefined when it was not closed.
 */
export function completeBatch(
  ctx: StoreContext,
  batchId: string,
  completion: { summary: string; endEvent: BatchEndEvent; ttl: number },
): Promise<BatchItem | undefined> {
  const { summary, endEvent, ttl } = completion;
  return updateBatch(
    ctx,
    batchId,
    'closed',
    'SET #status = :to, #completedAt = :at, #updatedAt = :at, #summary = :summary, #endEvent = :endEvent, ' +
      '#outboxPending = :true, #ttl = :ttl',
    {
      names: {
        '#completedAt': 'completedAt',
        '#updatedAt': 'updatedAt',
        '#summary': 'summary',
        '#endEvent': 'endEvent',
        '#outboxPending': 'outboxPending',
        '#ttl': 'ttl',
      },
      values: {
        ':to': 'completed' satisfies BatchStatus,
        ':at': endEvent.at,
        ':summary': summary,
        ':endEvent': endEvent,
        ':true': true,
        ':ttl': ttl,
      },
    },
  );
}

/** The batch's outbox is done (its webhook event enqueued, or none subscribed). */
export async function batchOutboxDone(ctx: StoreContext, batchId: string): Promise<void> {
  await updateBatch(ctx, batchId, 'completed', 'REMOVE #outboxPending', {
    names: { '#outboxPending': 'outboxPending' },
    values: {},
  });
}

/** A conditional update of a batch in status `from`: the new item, or undefined when the condition failed. */
async function updateBatch(
  ctx: StoreContext,
  batchId: string,
  from: BatchStatus,
  UpdateExpression: string,
  { names, values }: { names: Record<string, string>; values: Record<string, unknown> },
): Promise<BatchItem | undefined> {
  try {
    const out = await ctx.db.send(
      new UpdateCommand({
        TableName: ctx.table,
        Key: dbKeys.batch(batchId),
        UpdateExpression,
        ConditionExpression: 'attribute_exists(pk) AND #status = :from',
        ExpressionAttributeNames: { '#status': 'status', ...names },
        ExpressionAttributeValues: { ':from': from, ...values },
        ReturnValues: 'ALL_NEW',
      }),
    );
    return out.Attributes as BatchItem;
  } catch (error) {
    if (isConditionFailed(error)) return undefined;
    throw error;
  }
}
