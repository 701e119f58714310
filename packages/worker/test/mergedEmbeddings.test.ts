import { describe, expect, it } from 'vitest';
import { embeddingMerger } from '../src/batching/mergedEmbeddings.ts';

/** An embedding of `rows` rows of `size` floats, row r holding r + 1 + base everywhere. */
const embedding = (rows: number, size: number, base: number) =>
  Float32Array.from({ length: rows * size }, (_, i) => Math.floor(i / size) + 1 + base);

describe('embeddingMerger', () => {
  it("merges the parts' rows in order, pads with the first part's first row, and reuses a merge of the same parts", () => {
    const merge = embeddingMerger();
    const a = embedding(2, 3, 0); // rows 1, 2
    const b = embedding(2, 3, 10); // rows 11, 12
    const parts = [
      { emb: a, from: 0, count: 2 },
      { emb: b, from: 1, count: 1 },
    ];
    const merged = merge(parts, 4, 3);
    expect([...merged]).toEqual([1, 1, 1, 2, 2, 2, 12, 12, 12, 1, 1, 1]);
    // The same rows of the same arrays (a fresh list describing them): the same merge, not a copy.
    expect(
      merge(
        parts.map((part) => ({ ...part })),
        4,
        3,
      ),
    ).toBe(merged);
    // Other rows, another count of rows, or another array with equal values: merged anew.
    expect(
      merge(
        [
          { emb: a, from: 0, count: 2 },
          { emb: b, from: 0, count: 1 },
        ],
        4,
        3,
      ),
    ).not.toBe(merged);
    expect(merge(parts, 3, 3)).not.toBe(merged);
    expect(merge([{ emb: a.slice(), from: 0, count: 2 }, parts[1]!], 4, 3)).not.toBe(merged);
  });

  it('keeps two merges, so two cohorts taking turns each find theirs', () => {
    const merge = embeddingMerger();
    const cohortA = [{ emb: embedding(2, 2, 0), from: 0, count: 2 }];
    const cohortB = [{ emb: embedding(2, 2, 5), from: 0, count: 2 }];
    const a = merge(cohortA, 2, 2);
    const b = merge(cohortB, 2, 2);
    expect(merge(cohortA, 2, 2)).toBe(a);
    expect(merge(cohortB, 2, 2)).toBe(b);
    // A third composition pushes out the one merged longest ago.
    merge([{ emb: embedding(1, 2, 9), from: 0, count: 1 }], 1, 2);
    expect(merge(cohortA, 2, 2)).not.toBe(a);
  });
});
