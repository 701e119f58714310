import type { Embedding, Tensor } from '@obelm/engine';

/** The row layout of one eps call: x and its embedding both batch-first, one embedding row per x row. */
export interface RowLayout {
  readonly rows: number;
  readonly xRowShape: readonly number[];
  readonly embRowShape: readonly number[];
  readonly xRowSize: number;
  readonly embRowSize: number;
  /** Rows of calls with equal keys fit in one model call: same x and embedding row shapes. */
  readonly key: string;
}

const product = (dims: readonly number[]) => dims.reduce((a, b) => a * b, 1);

/**
 * The call's row layout, or undefined when it cannot be cut into rows (a shape that does not match its data, an
 * embedding batch that is not x's): such a call goes to the model on its own, which answers with its own error.
 */
export function rowLayout(x: Tensor, emb: Embedding): RowLayout | undefined {
  const [rows = 0, ...xRowShape] = x.shape;
  const [embRows = 0, ...embRowShape] = emb.shape;
  const xRowSize = product(xRowShape);
  const embRowSize = product(embRowShape);
  if (!Number.isInteger(rows) || rows < 1 || embRows !== rows) return undefined;
  if (x.data.length !== rows * xRowSize || emb.data.length !== rows * embRowSize) return undefined;
  const key = `${xRowShape.join(',')}|${embRowShape.join(',')}`;
  return { rows, xRowShape, embRowShape, xRowSize, embRowSize, key };
}

/**
 * A key equal for bitwise-equal timesteps only, or undefined for one that is not finite (the call then goes to
 * the model on its own). String(t) round-trips every finite double; -0 is told apart from 0 since a model may
 * see the sign.
 */
export function timestepKey(t: number): string | undefined {
  if (!Number.isFinite(t)) return undefined;
  return Object.is(t, -0) ? '-0' : String(t);
}

/** The key shared by all of `timesteps` when they are bitwise equal and finite, else undefined. */
export function uniformTimestepKey(timesteps: Float64Array): string | undefined {
  const key = timesteps.length > 0 ? timestepKey(timesteps[0]!) : undefined;
  for (const t of timesteps) if (timestepKey(t) !== key) return undefined;
  return key;
}
