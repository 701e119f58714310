import { paginateScan } from '@aws-sdk/lib-dynamodb';
import { type BatchItem, dbKeys, describeError } from '@obelm/core';
import { completeBatchIfDone, countAndClose } from '@obelm/store';
import type { Deps } from '../deps.ts';
import { apiLog } from '../log.ts';

/**
 * The sweeper's part for batches: whatever a crash or a lost event left undone. An open batch with
 * `expectedImages` is recounted (and closed if reached); a closed batch completes if its jobs have all ended
 * (a job end whose check failed, a job that never started: store batchCompletion.ts); a completed batch left
 * `outboxPending` gets its webhook event enqueued. Returns the batches that changed. Scans the table, as the
 * job sweep does (sweeper.ts: fine for the local stack and small tables).
 */
export async function sweepBatches(deps: Deps): Promise<string[]> {
  const changed: string[] = [];
  const pages = paginateScan(
    { client: deps.db },
    {
      TableName: deps.config.OBELM_TABLE,
      FilterExpression:
        'sk = :sk AND (#status = :closed OR attribute_exists(#outboxPending) OR ' +
        '(#status = :open AND attribute_exists(#expectedImages)))',
      ExpressionAttributeNames: {
        '#status': 'status',
        '#outboxPending': 'outboxPending',
        '#expectedImages': 'expectedImages',
      },
      ExpressionAttributeValues: { ':sk': dbKeys.batch('x').sk, ':closed': 'closed', ':open': 'open' },
    },
  );
  for await (const page of pages) {
    for (const batch of (page.Items ?? []) as BatchItem[]) {
      try {
        const after =
          batch.status === 'open'
            ? await countAndClose(deps.store, batch)
            : await completeBatchIfDone(deps.store, batch);
        if (after && (after.status !== batch.status || batch.outboxPending)) changed.push(batch.id);
      } catch (err) {
        apiLog.warn('sweeping a batch failed; the next sweep tries again', {
          batchId: batch.id,
          ...describeError(err),
        });
      }
    }
  }
  return changed;
}
