import { EngineError } from './errors.ts';
import type { Tensor } from './types.ts';

/** Number of elements of a shape; rejects shapes that are not lists of positive integers. */
export function numel(shape: readonly number[]): number {
  if (shape.length === 0 || !shape.every((d) => Number.isInteger(d) && d > 0)) {
    throw new EngineError(
      'shape_mismatch',
      `invalid shape [${shape.join(', ')}]: need positive integer dims`,
    );
  }
  return shape.reduce((a, b) => a * b, 1);
}

/** Checks that `data` holds exactly `shape`'s element count. */
export function assertLength(data: ArrayLike<number>, shape: readonly number[], what: string): void {
  const n = numel(shape);
  if (data.length !== n) {
    throw new EngineError(
      'shape_mismatch',
      `${what} has ${data.length} elements but shape [${shape.join(', ')}] needs ${n}`,
    );
  }
}

/** Throws `non_finite_state` at the first NaN or infinity. */
export function assertFinite(data: Float64Array, what: string): void {
  for (let j = 0; j < data.length; j++) {
    if (!Number.isFinite(data[j]!)) {
      throw new EngineError(
        'non_finite_state',
        `${what} has a non-finite value (${data[j]}) at element ${j}`,
      );
    }
  }
}

export function tensor(data: Float64Array, shape: readonly number[]): Tensor {
  assertLength(data, shape, 'tensor');
  return { data, shape };
}

/** The same shape with another batch size. */
export function withBatch(shape: readonly number[], batch: number): number[] {
  return [batch, ...shape.slice(1)];
}

/**
 * max |a_i - b_i|: how far two tensors are apart (a round trip's error, an eps drift). Arrays of different lengths
 * are infinitely far; a NaN anywhere gives NaN (Math.max keeps it), which no tolerance accepts.
 */
export function maxAbsDifference(a: Float64Array, b: Float64Array): number {
  if (a.length !== b.length) return Number.POSITIVE_INFINITY;
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
  return worst;
}
