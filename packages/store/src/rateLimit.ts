import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { dbKeys, TABLE, ttlAfter } from '@obelm/core';
import type { StoreContext } from './context.ts';

/** How long a window's counter is kept after its second (DynamoDB's TTL deletes it later). */
const WINDOW_KEPT_SECONDS = 60;

/**
 * Counts one request of an API key in the second `now` falls in (a fixed window, one item per key and second,
 * shared by every API container) and answers the count so far, this request included.
 */
export async function countRequest(
  ctx: Pick<StoreContext, 'db' | 'table'>,
  keyId: string,
  now: Date,
): Promise<number> {
  const second = Math.floor(now.getTime() / 1000);
  const out = await ctx.db.send(
    new UpdateCommand({
      TableName: ctx.table,
      Key: dbKeys.rateWindow(keyId, second),
      UpdateExpression: 'ADD requests :one SET #ttl = if_not_exists(#ttl, :ttl)',
      ExpressionAttributeNames: { '#ttl': TABLE.ttlAttribute },
      ExpressionAttributeValues: { ':one': 1, ':ttl': ttlAfter(now, WINDOW_KEPT_SECONDS) },
      ReturnValues: 'UPDATED_NEW',
    }),
  );
  return Number(out.Attributes?.['requests'] ?? 0);
}
