import { type BatchItem, conflict } from '@obelm/core';
import { closeBatch, completeBatchIfDone } from '@obelm/store';
import type { Deps } from '../deps.ts';
import { getTenantBatch } from './lookup.ts';

/**
 * POST /v1/batches/{id}/close: no new images join (their events are ignored); the batch completes once every
 * job it started has ended, at once if they all have. 409 `batch_closed` unless it was open.
 */
export async function closeTenantBatch(deps: Deps, tenant: string, batchId: string): Promise<BatchItem> {
  const batch = await getTenantBatch(deps, tenant, batchId);
  const closed = batch.status === 'open' ? await closeBatch(deps.store, batch.id, deps.now()) : undefined;
  if (!closed) {
    const status = (await getTenantBatch(deps, tenant, batchId)).status;
    throw conflict('batch_closed', `Batch '${batchId}' is already ${status}`, { batchId, status });
  }
  return completeBatchIfDone(deps.store, closed);
}
