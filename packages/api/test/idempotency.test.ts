import { describe, expect, it } from 'vitest';
import { checkIdempotencyKey, requestHash } from '../src/jobs/idempotency.ts';

describe('Idempotency-Key', () => {
  it('is optional and kept verbatim when it is 1-255 visible ASCII characters', () => {
    expect(checkIdempotencyKey(undefined)).toBeUndefined();
    for (const key of ['k', 'a'.repeat(255), '550e8400-e29b-41d4-a716-446655440000', '!"#$%&~{|}']) {
      expect(checkIdempotencyKey(key)).toBe(key);
    }
  });

  it('refuses empty, over-long, whitespace, control and non-ASCII keys with a 400', () => {
    for (const key of ['', 'a'.repeat(256), 'two words', 'tab\there', 'line\n', '\x7f', 'clé']) {
      expect(() => checkIdempotencyKey(key), JSON.stringify(key)).toThrow(
        expect.objectContaining({ status: 400, code: 'invalid_idempotency_key' }),
      );
    }
  });
});

describe('request hash', () => {
  const body = {
    kind: 'edit',
    image: { uploadId: 'upl_1' },
    sampler: { name: 'bdia', gamma: 0.5 },
    steps: 20,
  };

  it('ignores key order at every depth and the whitespace of the JSON it was parsed from', () => {
    const reordered = {
      steps: 20,
      sampler: { gamma: 0.5, name: 'bdia' },
      image: { uploadId: 'upl_1' },
      kind: 'edit',
    };
    const spaced = JSON.parse(JSON.stringify(body, null, 4));
    expect(requestHash(reordered)).toBe(requestHash(body));
    expect(requestHash(spaced)).toBe(requestHash(body));
    expect(requestHash(body)).toMatch(/^[0-9a-f]{64}$/);
  });

  it('tells apart bodies that differ in a value, a type, array order or a nested key', () => {
    const variants = [
      { ...body, steps: 21 },
      { ...body, steps: '20' },
      { ...body, sampler: { name: 'bdia', gamma: 0.5, extra: null } },
      { ...body, weights: [1, 2] },
      { ...body, weights: [2, 1] },
      { ...body, weights: '[1,2]' },
      { ...body, image: { uploadid: 'upl_1' } },
    ];
    const hashes = new Set([body, ...variants].map(requestHash));
    expect(hashes.size).toBe(variants.length + 1);
  });
});
