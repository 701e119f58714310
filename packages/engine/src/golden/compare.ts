/** One recomputed field next to its expected value. */
export interface FieldCheck {
  readonly field: string;
  /** Worst |diff| / (1 + |expected|) over the field's elements (Infinity on a shape mismatch). */
  readonly deviation: number;
  readonly tolerance: number;
  readonly passed: boolean;
  readonly note?: string;
}

/** Flattens nested number arrays (row-major) and returns their shape. */
export function flatten(value: unknown): { data: Float64Array; shape: number[] } {
  const shape: number[] = [];
  let probe: unknown = value;
  while (Array.isArray(probe)) {
    shape.push(probe.length);
    probe = probe[0];
  }
  const flat = (value as unknown[]).flat(Number.POSITIVE_INFINITY) as unknown[];
  if (!flat.every((v) => typeof v === 'number')) throw new Error('not a numeric array');
  return { data: Float64Array.from(flat as number[]), shape };
}

export function isNumeric(value: unknown): boolean {
  if (typeof value === 'number') return true;
  if (!Array.isArray(value)) return false;
  return value.length > 0 && value.flat(Number.POSITIVE_INFINITY).every((v) => typeof v === 'number');
}

/** Compares `actual` with the expected JSON value, element by element. */
export function compareField(
  field: string,
  expected: unknown,
  actual: ArrayLike<number>,
  tolerance: number,
): FieldCheck {
  const exp = typeof expected === 'number' ? Float64Array.of(expected) : flatten(expected).data;
  if (exp.length !== actual.length) {
    return {
      field,
      deviation: Number.POSITIVE_INFINITY,
      tolerance,
      passed: false,
      note: `expected ${exp.length} values, computed ${actual.length}`,
    };
  }
  let deviation = 0;
  for (let j = 0; j < exp.length; j++) {
    const d = Math.abs(actual[j]! - exp[j]!) / (1 + Math.abs(exp[j]!));
    deviation = Number.isNaN(d) ? Number.POSITIVE_INFINITY : Math.max(deviation, d);
  }
  return { field, deviation, tolerance, passed: deviation <= tolerance };
}
