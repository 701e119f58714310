import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { ModelEntry } from '@obelm/core';
import { listModels } from '@obelm/store';

/**
 * The models the API serves, with the limits and defaults it validates and fills requests with. Each entry is
 * an item of the table at `dbKeys.model(id)`, written by the store's `publishModel` from a bundle manifest
 * (`catalogEntryOf` in @obelm/models: `obelm admin models add`, the local stack for the demo).
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
 * The catalog of one table, cached in memory: one read of every entry (the store's `listModels`), and the
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
      const read = listModels({ db, table }).then((list) => new Map(list.map((entry) => [entry.id, entry])));
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
