import type { JobItem } from '@obelm/core';
import { describe, expect, it } from 'vitest';
import { decodeCursor, encodeCursor, positionOf } from '../src/jobs/cursor.ts';

/** positionOf reads only these fields of a job. */
const job = (tenant: string, id: string, createdAt = '2025-01-02T03:04:05.678Z') =>
  ({ id, tenant, createdAt }) as JobItem;
const invalidCursor = expect.objectContaining({
  status: 400,
  code: 'invalid_cursor',
  details: { field: 'cursor' },
});
const base64url = (text: string) => Buffer.from(text).toString('base64url');

describe('list cursors', () => {
  it("round-trip to the last job's table and index position, for its own tenant", () => {
    const position = positionOf(job('acme', 'job_1'));
    const cursor = encodeCursor(position);
    expect(cursor).toMatch(/^[A-Za-z0-9_-]+$/); // safe in a query string as is
    expect(decodeCursor(cursor, 'acme')).toEqual(position);
  });

  it("refuse another tenant's cursor: it never opens someone else's list", () => {
    const cursor = encodeCursor(positionOf(job('acme', 'job_1')));
    expect(() => decodeCursor(cursor, 'other')).toThrow(invalidCursor);
    // The same ids under a tenant whose name extends the first one's are still another partition.
    expect(() => decodeCursor(cursor, 'acme2')).toThrow(invalidCursor);
  });

  it('refuse what this API did not write: not base64 JSON, not an object, missing or non-string keys', () => {
    const { pk, sk, gsi1pk, gsi1sk } = positionOf(job('acme', 'job_1'));
    for (const cursor of [
      '',
      '%%%',
      base64url('{"pk":'),
      base64url('null'),
      base64url('"text"'),
      base64url(JSON.stringify({ pk, sk, gsi1pk })),
      base64url(JSON.stringify({ pk, sk, gsi1pk, gsi1sk: 7 })),
      base64url(JSON.stringify([pk, sk, gsi1pk, gsi1sk])),
    ]) {
      expect(() => decodeCursor(cursor, 'acme'), cursor).toThrow(invalidCursor);
    }
  });
});
