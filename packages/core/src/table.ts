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
  /**
   * Active jobs only (sparse): gsi2pk = TENANT#{tenant}#ACTIVE, gsi2sk = S|H#{createdAt}#{jobId}. Counts a
   * tenant's active and sent jobs (limits, fair share) and finds its oldest held one without a scan.
   */
  gsi2: { name: 'gsi2', partitionKey: 'gsi2pk', sortKey: 'gsi2sk' },
  /** Epoch seconds; DynamoDB deletes expired idempotency records and old job items on its own. */
  ttlAttribute: 'ttl',
} as const;

/** Every key attribute (table and index), each declared once as a string attribute. */
export const TABLE_KEY_ATTRIBUTES = [
  TABLE.partitionKey,
  TABLE.sortKey,
  TABLE.gsi1.partitionKey,
  TABLE.gsi1.sortKey,
  TABLE.gsi2.partitionKey,
  TABLE.gsi2.sortKey,
] as const;

/** Every global secondary index, as infra and the local stack create them (all attributes projected). */
export const TABLE_INDEXES = [TABLE.gsi1, TABLE.gsi2] as const;

/** The value of the TTL attribute for an item kept `seconds` from `now`: epoch seconds, as DynamoDB reads it. */
export const ttlAfter = (now: Date, seconds: number): number => Math.floor(now.getTime() / 1000) + seconds;

/**
 * How long an ended job's item is kept (its TTL from the end): as long as the stage keeps its outputs (S3
 * lifecycle, `retentionDays`) plus a day for the lifecycle's rounding to midnight UTC, so the job view and
 * DELETE work for as long as any of its objects exists. Its usage entry is kept apart and does not expire.
 */
export const endedJobKeepSeconds = (retentionDays: number): number => (retentionDays + 1) * 86_400;
