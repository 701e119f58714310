import { type DynamoDBDocumentClient, PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { dbKeys, type ModelEntry, ModelEntrySchema } from '@obelm/core';

/**
 * The models the API serves, with the limits and defaults it validates and fills requests with. Each entry is
 * an item of the table at `dbKeys.model(id)`, written by `publishModel` from a bundle manifest
 * (`catalogEntryOf` in @obelm/models: scripts/publishModel.ts, the local stack for the demo).
 */
export interface ModelCatalog {
  /** The entry of a model; with `tenant`, only if that tenant may use it. */
  get(id: string, tenant?: string): Promise<ModelEntry | undefined>;
  /** The entries a tenant may use (those without `tenants`, or naming it), by id. */
  list(tenant: string): Promise<ModelEntry[]>;
}

/** How long a container answers from the catalog it read before reading it again. */
export const CATALOG_TTL_MS = 30_000;

/**
 * The catalog of one table, cached in memory: one Query (the MODELS partition) reads every entry, and the
 * container answers from that read for `ttlMs`. So a published or changed entry reaches every API container
 * within 30 s, and a request costs no read of its own. A failed read is not cached; concurrent callers share
 * one read. An item that is not a valid entry fails the read (500) rather than serving a model without limits.
 */
export function createModelCatalog(
  db: DynamoDBDocumentClient,
  table: string,
  { ttlMs = CATALOG_TTL_MS, now = Date.now }: { ttlMs?: number; now?: () => number } = {},
): ModelCatalog {
  let cache: { readAt: number; entries: Promise<ReadonlyMap<string, ModelEntry>> } | undefined;
  const entries = () => {
    const at = now();
    if (!cache || at - cache.readAt >= ttlMs) {
      const read = readEntries(db, table);
      const current = { readAt: at, entries: read };
      cache = current;
      read.catch(() => {
        if (cache === current) cache = undefined;
      });
    }
    return cache.entries;
  };
  const allows = (entry: ModelEntry, tenant: string) => !entry.tenants || entry.tenants.includes(tenant);
  return {
    async get(id, tenant) {
      const entry = (await entries()).get(id);
      return entry && (tenant === undefined || allows(entry, tenant)) ? entry : undefined;
    },
    async list(tenant) {
      return [...(await entries()).values()].filter((entry) => allows(entry, tenant));
    },
  };
}

async function readEntries(db: DynamoDBDocumentClient, table: string): Promise<Map<string, ModelEntry>> {
  const entries = new Map<string, ModelEntry>();
  let start: Record<string, unknown> | undefined;
  do {
    const page = await db.send(
      new QueryCommand({
        TableName: table,
        KeyConditionExpression: 'pk = :pk',
        ExpressionAttributeValues: { ':pk': dbKeys.modelsPartition },
        ExclusiveStartKey: start,
      }),
    );
    for (const { pk: _pk, sk, ...item } of page.Items ?? []) {
      const parsed = ModelEntrySchema.safeParse(item);
      if (!parsed.success || dbKeys.model(parsed.data.id).sk !== sk) {
        const problem = parsed.success ? `its id is not ${String(sk)}` : parsed.error.message;
        throw new Error(
          `Model catalog item ${String(sk)} is not a valid entry (publish it again): ${problem}`,
        );
      }
      entries.set(parsed.data.id, parsed.data);
    }
    start = page.LastEvaluatedKey;
  } while (start);
  return entries;
}

/** Writes (or replaces) a model's catalog entry after checking it; returns the entry as stored. */
export async function publishModel(
  db: DynamoDBDocumentClient,
  table: string,
  entry: ModelEntry,
): Promise<ModelEntry> {
  const valid = ModelEntrySchema.parse(entry);
  await db.send(new PutCommand({ TableName: table, Item: { ...dbKeys.model(valid.id), ...valid } }));
  return valid;
}
