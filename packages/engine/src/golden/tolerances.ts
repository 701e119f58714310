/** Tolerances of a golden-vectors file: |diff| <= tol * (1 + |expected|) (docs/math.md §11.4). */
export interface Tolerances {
  readonly sampling: number;
  readonly inversion: number;
  /** Reference ODE solutions (`exact_ode_*`), reproduced by the engine's own reference solver. */
  readonly ode: number;
  /** Integer timestep lists must match exactly. */
  readonly exact: number;
}

export const DEFAULT_TOLERANCES: Tolerances = { sampling: 1e-12, inversion: 1e-10, ode: 1e-8, exact: 0 };

/** Reads `suggested_tolerances` ("|diff| <= 1e-12 * (1 + |expected|)" strings or plain numbers). */
export function parseTolerances(suggested: unknown): Tolerances {
  const read = (value: unknown, fallback: number): number => {
    if (typeof value === 'number' && value >= 0) return value;
    if (typeof value === 'string') {
      const match = /<=\s*([0-9.]+(?:e[+-]?\d+)?)/i.exec(value);
      if (match) return Number(match[1]);
    }
    return fallback;
  };
  const s = (suggested ?? {}) as Record<string, unknown>;
  return {
    ...DEFAULT_TOLERANCES,
    sampling: read(s['float64_sampling'], DEFAULT_TOLERANCES.sampling),
    inversion: read(s['float64_inversion'], DEFAULT_TOLERANCES.inversion),
  };
}
