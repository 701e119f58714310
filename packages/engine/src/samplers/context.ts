import { EngineError } from '../errors.ts';
import type { EpsPredictor, Grid, SamplerState } from '../types.ts';

export type Direction = 'sample' | 'invert';

/** What one step needs besides the state. */
export interface StepContext {
  readonly grid: Grid;
  readonly eps: EpsPredictor;
  readonly shape: readonly number[];
  /** Model timestep of the clean-end DDIM inversion call (docs/math.md §2: official 1). */
  readonly firstInversionTimestep: number;
  readonly signal?: AbortSignal;
}

/** One sampler: a step towards the data (`sample`) and a step towards the noise (`invert`). */
export interface Sampler {
  sampleStep(state: SamplerState, ctx: StepContext): Promise<SamplerState>;
  invertStep(state: SamplerState, ctx: StepContext): Promise<SamplerState>;
  /** Model calls per step (EDICT needs two). */
  readonly callsPerStep: number;
}

/** eps_theta(x, t), checked for length so a misbehaving model fails loudly instead of producing garbage. */
export async function predict(ctx: StepContext, x: Float64Array, t: number): Promise<Float64Array> {
  const eps = await ctx.eps({ data: x, shape: ctx.shape }, t, ctx.signal);
  if (eps.length !== x.length) {
    throw new EngineError(
      'shape_mismatch',
      `the noise predictor returned ${eps.length} values for ${x.length}`,
    );
  }
  return eps;
}

/** The model timestep used at grid index i: tau_i, or the configurable call at the clean end (i = 0). */
export function timestepAt(ctx: StepContext, i: number): number {
  return i === 0 ? ctx.firstInversionTimestep : ctx.grid.timesteps[i]!;
}
