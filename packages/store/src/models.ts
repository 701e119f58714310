import { PutCommand, paginateQuery } from '@aws-sdk/lib-dynamodb';
import { dbKeys, type ModelEntry, ModelEntrySchema } from '@obelm/core';
import type { StoreContext } from './context.ts';

/**
 * The model catalog's items (core models.ts): one item per model at `dbKeys.model(id)`, all in one partition.
 * Written by `obelm admin models add` (and the local stack for the demo), read by the API's cached catalog and
 * `obelm admin models list`.
 */

/** What the catalog functions need of the store: the table. */
export type CatalogStore = Pick<StoreContext, 'db' | 'table'>;

/** Writes (or replaces) a model's catalog entry after checking it; returns the entry as stored. */
export async function publishModel(ctx: CatalogStore, entry: ModelEntry): Promise<ModelEntry> {
  const valid = ModelEntrySchema.parse(entry);
  await ctx.db.send(new PutCommand({ TableName: ctx.table, Item: { ...dbKeys.model(valid.id), ...valid } }));
  return valid;
}

/**
 * Every catalog entry, by id (one Query of the MODELS partition, every page). An item that is not a valid entry
 * fails the read: a model must never be served without its limits.
 */
export async function listModels(ctx: CatalogStore): Promise<ModelEntry[]> {
  const entries: ModelEntry[] = [];
  const pages = paginateQuery(
    { client: ctx.db },
    {
      TableName: ctx.table,
      KeyConditionExpression: 'pk = :pk',
      ExpressionAttributeValues: { ':pk': dbKeys.modelsPartition },
    },
  );
  for await (const page of pages) {
    for (const { pk: _pk, sk, ...item } of page.Items ?? []) {
      const parsed = ModelEntrySchema.safeParse(item);
      if (!parsed.success || dbKeys.model(parsed.data.id).sk !== sk) {
        const problem = parsed.success ? `its id is not ${String(sk)}` : parsed.error.message;
        throw new Error(
          `Model catalog item ${String(sk)} is not a valid entry (publish it again): ${problem}`,
        );
      }
      entries.push(parsed.data);
    }
  }
  return entries;
}
