import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import { dbKeys, GSI1, type JobItem, type JobStatus } from '@obelm/core';
import type { Deps } from '../deps.ts';
import { decodeCursor, encodeCursor, positionOf } from './cursor.ts';

export interface JobPage {
  jobs: JobItem[];
  nextCursor?: string;
}

/**
 * A tenant's jobs, newest first (gsi1 sorted by createdAt#id, read backwards). Each read asks for one item
 * more than still needed, so an unfiltered list knows exactly whether another page exists. A status filter
 * is applied by DynamoDB after `Limit`, so reading goes on until the page is full; then a cursor may lead to
 * an empty last page. The cursor is the position of the last job returned: nothing is skipped or repeated.
 */
export async function listJobs(
  deps: Deps,
  tenant: string,
  { status, limit, cursor }: { status?: JobStatus | undefined; limit: number; cursor?: string | undefined },
): Promise<JobPage> {
  const jobs: JobItem[] = [];
  let start: Record<string, unknown> | undefined = cursor ? { ...decodeCursor(cursor, tenant) } : undefined;
  let hasMore = false;
  const values: Record<string, unknown> = { ':pk': dbKeys.tenantJobsPartition(tenant) };
  if (status) values[':status'] = status;
  while (!hasMore) {
    const page = await deps.db.send(
      new QueryCommand({
        TableName: deps.config.OBELM_TABLE,
        IndexName: GSI1,
        KeyConditionExpression: 'gsi1pk = :pk',
        ScanIndexForward: false,
        Limit: limit - jobs.length + 1,
        ExclusiveStartKey: start,
        ExpressionAttributeValues: values,
        ...(status
          ? { FilterExpression: '#status = :status', ExpressionAttributeNames: { '#status': 'status' } }
          : {}),
      }),
    );
    for (const item of (page.Items ?? []) as JobItem[]) {
      if (jobs.length === limit) {
        hasMore = true;
        break;
      }
      jobs.push(item);
    }
    start = page.LastEvaluatedKey;
    if (!start) break;
    if (jobs.length === limit) hasMore = true;
  }
  const last = jobs.at(-1);
  return hasMore && last ? { jobs, nextCursor: encodeCursor(positionOf(last)) } : { jobs };
}
