import { createHash } from 'node:crypto';
import { DeleteCommand, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { badRequest, conflict, dbKeys, type IdempotencyItem, isConditionFailed, ttlAfter } from '@obelm/core';
import { canonicalJson } from '../canonicalJson.ts';
import type { Deps } from '../deps.ts';

/** How long an Idempotency-Key is remembered. */
const KEY_TTL_SECONDS = 24 * 3600;

const KEY_PATTERN = /^[\x21-\x7e]{1,255}$/;

export function checkIdempotencyKey(key: string | undefined): string | undefined {
  if (key === undefined) return undefined;
  if (!KEY_PATTERN.test(key)) {
    throw badRequest('invalid_idempotency_key', 'Idempotency-Key must be 1-255 visible ASCII characters', {
      header: 'Idempotency-Key',
    });
  }
  return key;
}

export const requestHash = (body: unknown): string =>
  createHash('sha256').update(canonicalJson(body)).digest('hex');

/** The job an earlier request with this key created; 409 `idempotency_conflict` when the body differs. */
export async function findReplay(
  deps: Deps,
  tenant: string,
  key: string,
  hash: string,
): Promise<string | undefined> {
  const { Item } = await deps.db.send(
    new GetCommand({
      TableName: deps.config.OBELM_TABLE,
      Key: dbKeys.idempotency(tenant, key),
      ConsistentRead: true,
    }),
  );
  const item = Item as IdempotencyItem | undefined;
  // Expired by the same rule as claimKey's condition, so a key is never both expired here and live there.
  if (!item || item.ttl < Math.floor(deps.now().getTime() / 1000)) return undefined;
  if (item.requestHash !== hash) {
    throw conflict('idempotency_conflict', 'This Idempotency-Key was used with a different request body', {
      header: 'Idempotency-Key',
      jobId: item.jobId,
    });
  }
  return item.jobId;
}

/**
 * Claims the key for `jobId` with a conditional put. Returns false when another request claimed it first
 * (the caller then replays that one). An expired claim DynamoDB has not yet deleted may be taken over.
 */
export async function claimKey(deps: Deps, tenant: string, key: string, hash: string, jobId: string) {
  const now = deps.now();
  const item: IdempotencyItem = {
    jobId,
    requestHash: hash,
    createdAt: now.toISOString(),
    ttl: ttlAfter(now, KEY_TTL_SECONDS),
  };
  try {
    await deps.db.send(
      new PutCommand({
        TableName: deps.config.OBELM_TABLE,
        Item: { ...dbKeys.idempotency(tenant, key), ...item },
        ConditionExpression: 'attribute_not_exists(pk) OR #ttl < :now',
        ExpressionAttributeNames: { '#ttl': 'ttl' },
        ExpressionAttributeValues: { ':now': Math.floor(now.getTime() / 1000) },
      }),
    );
    return true;
  } catch (err) {
    if (isConditionFailed(err)) return false;
    throw err;
  }
}

/** Frees a claim whose job was never created or never queued, so a retry with the same key can succeed. */
export async function releaseKey(deps: Deps, tenant: string, key: string, jobId: string): Promise<void> {
  await deps.db
    .send(
      new DeleteCommand({
        TableName: deps.config.OBELM_TABLE,
        Key: dbKeys.idempotency(tenant, key),
        ConditionExpression: 'jobId = :jobId',
        ExpressionAttributeValues: { ':jobId': jobId },
      }),
    )
    .catch(() => undefined);
}
