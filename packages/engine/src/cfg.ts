import { EngineError } from './errors.ts';
import type { ConditionalEpsPredictor, Embedding, EpsPredictor } from './types.ts';

/** Rows of embeddings stacked batch-first: each part's single row repeated `times` times. */
function stackRows(parts: readonly { emb: Embedding; times: number }[]): Embedding {
  const rowShape = parts[0]!.emb.shape.slice(1);
  const rowSize = rowShape.reduce((a, b) => a * b, 1);
  const rows = parts.reduce((n, p) => n + p.times, 0);
  const data = new Float32Array(rows * rowSize);
  let offset = 0;
  for (const { emb, times } of parts) {
    if (emb.shape[0] !== 1 || emb.data.length !== rowSize) {
      throw new EngineError(
        'shape_mismatch',
        `an embedding must have a batch of one and row shape [${rowShape}], got [${emb.shape}]`,
      );
    }
    for (let k = 0; k < times; k++, offset += rowSize) data.set(emb.data, offset);
  }
  return { data, shape: [rows, ...rowShape] };
}

/**
 * Classifier-free guidance (docs/math.md §7) over a conditional predictor. For g > 1 the model runs ONCE on
 * the batch [x; x] with embedding rows [uncond; cond] and eps = u + g (c - u); for g <= 1 only the
 * conditional rows run. The batch layout is the same in both directions, so eps stays bitwise reproducible
 * (docs/math.md §4).
 */
export function guidedEps(
  eps: ConditionalEpsPredictor,
  cond: Embedding,
  uncond: Embedding,
  guidance: number,
): EpsPredictor {
  if (!Number.isFinite(guidance) || guidance < 0) {
    throw new EngineError('invalid_guidance', `guidance must be a finite number >= 0, got ${guidance}`);
  }
  // The embedding rows depend only on the batch size, which stays the same over a run's steps: built once per
  // size, not at every step (an SD embedding is 77 x 768 floats a row). Models only read their inputs.
  const stacked = new Map<number, Embedding>();
  const embeddingFor = (batch: number): Embedding => {
    let emb = stacked.get(batch);
    if (!emb) {
      emb =
        guidance <= 1
          ? stackRows([{ emb: cond, times: batch }])
          : stackRows([
              { emb: uncond, times: batch },
              { emb: cond, times: batch },
            ]);
      stacked.set(batch, emb);
    }
    return emb;
  };
  return async (x, t, signal) => {
    const batch = x.shape[0]!;
    if (guidance <= 1) return eps(x, t, embeddingFor(batch), signal);
    const n = x.data.length;
    const doubled = new Float64Array(2 * n);
    doubled.set(x.data);
    doubled.set(x.data, n);
    const emb = embeddingFor(batch);
    const out = await eps({ data: doubled, shape: [2 * batch, ...x.shape.slice(1)] }, t, emb, signal);
    if (out.length !== 2 * n) {
      throw new EngineError('shape_mismatch', `the model returned ${out.length} values for ${2 * n}`);
    }
    const guided = new Float64Array(n);
    for (let j = 0; j < n; j++) {
      const u = out[j]!;
      guided[j] = u + guidance * (out[n + j]! - u);
    }
    return guided;
  };
}
