/**
 * The single DynamoDB table's shape, the one definition infra (infra/table.ts) and the local stack
 * (packages/local/src/provision.ts) create it from. Item keys are written by dbKeys (keys.ts) under these
 * attribute names; every key attribute is a string.
 */
export const TABLE = {
  partitionKey: 'pk',
  sortKey: 'sk',
  /** A tenant's jobs newest first: gsi1pk = TENANT#{tenant}#JOBS, gsi1sk = {createdAt}#{jobId}. */
  gsi1: { name: 'gsi1', partitionKey: 'gsi1pk', sortKey: 'gsi1sk' },
  /** Epoch seconds; DynamoDB deletes expired idempotency records and old job items on its own. */
  ttlAttribute: 'ttl',
} as const;

/** Every key attribute (table and index), each declared once as a string attribute. */
export const TABLE_KEY_ATTRIBUTES = [
  TABLE.partitionKey,
  TABLE.sortKey,
  TABLE.gsi1.partitionKey,
  TABLE.gsi1.sortKey,
] as const;

/** The value of the TTL attribute for an item kept `seconds` from `now`: epoch seconds, as DynamoDB reads it. */
export const ttlAfter = (now: Date, seconds: number): number => Math.floor(now.getTime() / 1000) + seconds;
