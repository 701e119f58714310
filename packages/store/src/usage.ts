import { paginateQuery } from '@aws-sdk/lib-dynamodb';
import { dbKeys, type UsageEntry } from '@obelm/core';
import type { StoreContext } from './context.ts';

/**
 * A tenant's usage entries of one calendar month (`YYYY-MM`, UTC): one Query of the tenant's partition by the
 * month's sort-key prefix, page by page, strongly consistent (an entry written a moment ago counts).
 */
export async function monthUsage(
  ctx: Pick<StoreContext, 'db' | 'table'>,
  tenant: string,
  month: string,
): Promise<UsageEntry[]> {
  const entries: UsageEntry[] = [];
  const pages = paginateQuery(
    { client: ctx.db },
    {
      TableName: ctx.table,
      KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
      ExpressionAttributeValues: {
        ':pk': dbKeys.tenant(tenant).pk,
        ':prefix': dbKeys.usageMonthPrefix(month),
      },
      ConsistentRead: true,
    },
  );
  for await (const page of pages) {
    for (const { pk: _pk, sk: _sk, ...entry } of page.Items ?? []) entries.push(entry as UsageEntry);
  }
  return entries;
}
