import { EngineError, throwIfAborted } from '../errors.ts';
import { assertFinite, assertLength } from '../tensor.ts';
import type { RunOptions, SamplerSpec, SamplerState } from '../types.ts';
import { bdia, obelm } from './belm.ts';
import type { Direction, Sampler, StepContext } from './context.ts';
import { ddim } from './ddim.ts';
import { edict } from './edict.ts';
import { frontier, stateArrays } from './state.ts';

/** The sampler a spec names, with its parameter checked. */
export function samplerFor(spec: SamplerSpec): Sampler {
  switch (spec.name) {
    case 'ddim':
      return ddim;
    case 'obelm':
      return obelm;
    case 'bdia':
      // gamma = 0 degenerates to DDIM, which has no inverse (docs/math.md §5).
      if (!(spec.gamma > 0 && spec.gamma <= 1)) {
        throw new EngineError('invalid_sampler', `bdia gamma must be in (0, 1], got ${spec.gamma}`);
      }
      return bdia(spec.gamma);
    case 'edict':
      if (!(spec.p > 0 && spec.p <= 1)) {
        throw new EngineError('invalid_sampler', `edict p must be in (0, 1], got ${spec.p}`);
      }
      return edict(spec.p);
    default:
      throw new EngineError('invalid_sampler', `unknown sampler '${(spec as { name: unknown }).name}'`);
  }
}

/** Steps a run from `state` to grid index `to` takes; validates the state and the target. */
export function stepsBetween(state: SamplerState, direction: Direction, to: number, steps: number): number {
  const { index } = state;
  const pairLow = state.kind === 'pair' ? 1 : 0;
  if (!Number.isInteger(index) || index < pairLow || index > steps) {
    throw new EngineError(
      'invalid_state',
      `a ${state.kind} state index must be in [${pairLow}, ${steps}], got ${index}`,
    );
  }
  const from = frontier(state, direction);
  const [lo, hi] = direction === 'sample' ? [0, from] : [from, steps];
  if (!Number.isInteger(to) || to < lo || to > hi) {
    throw new EngineError(
      'invalid_target',
      `cannot ${direction} from grid index ${from} to ${to}: the target must be in [${lo}, ${hi}]`,
    );
  }
  return Math.abs(to - from);
}

/**
 * Runs `spec` from `state` until its frontier reaches grid index `to` (0 = clean data when sampling,
 * N = noise when inverting). This is the one entry point for full runs, partial runs (editing freeze) and
 * resumes: every step is a pure function of the state, so a run split at any step and resumed from the state
 * reported by `onStep` gives bitwise the same result as an unsplit run.
 *
 * Sampling from a pair (x_i, x_{i-1}) skips the DDIM start (exact reconstruction, docs/math.md §4); inverting
 * from the pair (x_1, x_0) kept by sampling gives back the noise exactly. One-sequence starts follow the
 * official code.
 */
export async function runSampler(
  spec: SamplerSpec,
  direction: Direction,
  state: SamplerState,
  to: number,
  opts: RunOptions,
): Promise<SamplerState> {
  const sampler = samplerFor(spec);
  const total = stepsBetween(state, direction, to, opts.grid.steps);
  // Each array is checked once: a step makes new arrays (kernels.ts) and carries over those it keeps (a pair's
  // newer half), which were checked when made; on SD-sized latents the check costs about what the step does.
  const checked = new WeakSet<Float64Array>();
  const checkFinite = (array: Float64Array, what: string) => {
    if (checked.has(array)) return;
    assertFinite(array, what);
    checked.add(array);
  };
  for (const array of stateArrays(state)) {
    assertLength(array, opts.shape, `the ${state.kind} state`);
    checkFinite(array, `the ${state.kind} state at index ${state.index}`);
  }
  const ctx: StepContext = {
    grid: opts.grid,
    eps: opts.eps,
    shape: opts.shape,
    firstInversionTimestep: opts.firstInversionTimestep ?? 1,
    signal: opts.signal,
  };
  const step = direction === 'sample' ? sampler.sampleStep : sampler.invertStep;
  for (let done = 1; done <= total; done++) {
    throwIfAborted(opts.signal);
    state = await step(state, ctx);
    for (const array of stateArrays(state)) checkFinite(array, `the state after ${direction} step ${done}`);
    await opts.onStep?.({ step: done, of: total, state });
  }
  return state;
}
