import { badRequest, dbKeys, type JobItem } from '@obelm/core';

/**
 * Opaque list cursors: the gsi1 position of the last job returned, base64url JSON. A cursor is bound to its
 * tenant's partition, so a cursor from another tenant (or a forged one) is a 400, never a peek.
 */
export interface Position {
  pk: string;
  sk: string;
  gsi1pk: string;
  gsi1sk: string;
}

export const positionOf = (job: JobItem): Position => ({
  ...dbKeys.job(job.id),
  ...dbKeys.jobByTenant(job.tenant, job.createdAt, job.id),
});

export const encodeCursor = (p: Position): string => Buffer.from(JSON.stringify(p)).toString('base64url');

export function decodeCursor(cursor: string, tenant: string): Position {
  const invalid = () =>
    badRequest('invalid_cursor', 'cursor is not a cursor returned by this API', { field: 'cursor' });
  let p: Partial<Position>;
  try {
    p = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw invalid();
  }
  const fields = [p?.pk, p?.sk, p?.gsi1pk, p?.gsi1sk];
  if (!fields.every((f) => typeof f === 'string') || p.gsi1pk !== dbKeys.tenantJobsPartition(tenant)) {
    throw invalid();
  }
  return p as Position;
}
