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
