import { type BatchItem, IdSchema, notFound } from '@obelm/core';
import { getBatch } from '@obelm/store';
import type { Deps } from '../deps.ts';
import type { HttpEvent } from '../http.ts';

/** The `{id}` path parameter; a malformed id cannot name a batch, so it is a 404 like any unknown one. */
export function batchIdParam(event: HttpEvent): string {
  const id = event.pathParameters?.['id'] ?? '';
  if (!IdSchema.safeParse(id).success) throw batchNotFound(id);
  return id;
}

/** A batch of this tenant, or 404: another tenant's batch is indistinguishable from a missing one. */
export async function getTenantBatch(deps: Deps, tenant: string, batchId: string): Promise<BatchItem> {
  const batch = await getBatch(deps.store, batchId);
  if (!batch || batch.tenant !== tenant) throw batchNotFound(batchId);
  return batch;
}

const batchNotFound = (batchId: string) => notFound('batch_not_found', `No batch '${batchId}'`, { batchId });
