import { EngineError } from './errors.ts';

/**
 * Spherical interpolation (paper eq. 64) of two batches, row by row (one angle per batch row, over the whole
 * row vector): sin((1-w) theta)/sin(theta) a + sin(w theta)/sin(theta) b; falls back to the straight line when
 * the rows are (anti)parallel or zero.
 */
export function slerp(a: Float64Array, b: Float64Array, w: number, batch: number): Float64Array {
  if (a.length !== b.length || a.length % batch !== 0) {
    throw new EngineError(
      'shape_mismatch',
      `slerp needs two states of the same shape (${a.length} vs ${b.length})`,
    );
  }
  if (!Number.isFinite(w)) throw new EngineError('invalid_weights', `slerp weight must be finite, got ${w}`);
  const rowSize = a.length / batch;
  const out = new Float64Array(a.length);
  for (let start = 0; start < a.length; start += rowSize) {
    let dot = 0;
    let na = 0;
    let nb = 0;
    for (let j = start; j < start + rowSize; j++) {
      dot += a[j]! * b[j]!;
      na += a[j]! * a[j]!;
      nb += b[j]! * b[j]!;
    }
    const cos = dot / Math.sqrt(na * nb);
    const theta = Math.acos(Math.min(1, Math.max(-1, cos)));
    const sin = Math.sin(theta);
    const [ca, cb] =
      Number.isFinite(cos) && sin > 1e-12
        ? [Math.sin((1 - w) * theta) / sin, Math.sin(w * theta) / sin]
        : [1 - w, w];
    for (let j = start; j < start + rowSize; j++) out[j] = ca * a[j]! + cb * b[j]!;
  }
  return out;
}
