/** Rows of one caller's embedding that a merged call takes: the caller's array, from row `from`, `count` rows. */
export interface EmbeddingPart {
  readonly emb: Float32Array;
  readonly from: number;
  readonly count: number;
}

interface Merged {
  readonly parts: readonly EmbeddingPart[];
  readonly rows: number;
  readonly rowSize: number;
  readonly data: Float32Array;
}

/**
 * Merges the embedding rows of a batched call, reusing a merge while the same rows of the same arrays make it
 * up. A job's embedding array is the same object from step to step (engine cfg.ts keeps its stacked rows per
 * batch size), so a cohort's calls merge the same parts at every step: for Stable Diffusion, 16 rows of
 * 77 x 768 floats (3.8 MB), allocated and copied once instead of at every call. `keep` merges are kept: two
 * cohorts take turns. A merge is only ever read (a session copies what it sends to its thread), so sharing it
 * between calls is safe. Rows past the parts' (padding) repeat the first part's first row.
 */
export function embeddingMerger(
  keep = 2,
): (parts: readonly EmbeddingPart[], rows: number, rowSize: number) => Float32Array {
  const kept: Merged[] = [];
  return (parts, rows, rowSize) => {
    const found = kept.find(
      (merged) => merged.rows === rows && merged.rowSize === rowSize && sameParts(merged.parts, parts),
    );
    if (found) return found.data;
    const data = new Float32Array(rows * rowSize);
    let row = 0;
    for (const { emb, from, count } of parts) {
      data.set(emb.subarray(from * rowSize, (from + count) * rowSize), row * rowSize);
      row += count;
    }
    const first = parts[0]!;
    const pad = first.emb.subarray(first.from * rowSize, (first.from + 1) * rowSize);
    for (; row < rows; row++) data.set(pad, row * rowSize);
    kept.unshift({ parts: parts.map(({ emb, from, count }) => ({ emb, from, count })), rows, rowSize, data });
    kept.length = Math.min(kept.length, keep);
    return data;
  };
}

const sameParts = (a: readonly EmbeddingPart[], b: readonly EmbeddingPart[]) =>
  a.length === b.length &&
  a.every((part, i) => part.emb === b[i]!.emb && part.from === b[i]!.from && part.count === b[i]!.count);
