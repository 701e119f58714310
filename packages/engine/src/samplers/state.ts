import type { SamplerState } from '../types.ts';
import type { Direction } from './context.ts';

/**
 * The grid index a run has reached: the cleanest state held when sampling, the noisiest when inverting.
 * A pair (x_i, x_{i-1}) sits at i - 1 for sampling and at i for inversion.
 */
export function frontier(state: SamplerState, direction: Direction): number {
  return state.kind === 'pair' && direction === 'sample' ? state.index - 1 : state.index;
}

/** The single state at the frontier: what a one-sequence sampler continues from. */
export function frontierState(
  state: SamplerState,
  direction: Direction,
): Extract<SamplerState, { kind: 'single' }> {
  switch (state.kind) {
    case 'single':
      return state;
    case 'pair':
      return direction === 'sample'
        ? { kind: 'single', index: state.index - 1, x: state.lower }
        : { kind: 'single', index: state.index, x: state.upper };
    case 'coupled':
      return { kind: 'single', index: state.index, x: state.x };
  }
}

/** One array of a sampler state, by its name in the state (and in a noise artifact). */
export type StateTensor = 'x' | 'y' | 'upper' | 'lower';

/** Every array a state holds with its name, in the order noise artifacts store them. */
export function namedStateArrays(state: SamplerState): Array<readonly [StateTensor, Float64Array]> {
  switch (state.kind) {
    case 'single':
      return [['x', state.x]];
    case 'pair':
      return [
        ['upper', state.upper],
        ['lower', state.lower],
      ];
    case 'coupled':
      return [
        ['x', state.x],
        ['y', state.y],
      ];
  }
}

/** Every array a state holds, for shape and finiteness checks. */
export function stateArrays(state: SamplerState): Float64Array[] {
  return namedStateArrays(state).map(([, array]) => array);
}

/**
 * Where a restarted run begins (docs/math.md §8, docs/demo-model.md §5): 'pair' keeps the stored pair
 * (official; exact for reconstruction), 'single' keeps only the noisier state x_i so sampling restarts with
 * one DDIM step (far more reliable when the prompt changed).
 */
export function restartState(state: SamplerState, mode: 'pair' | 'single'): SamplerState {
  if (mode === 'pair' || state.kind === 'single') return state;
  return state.kind === 'pair'
    ? { kind: 'single', index: state.index, x: state.upper }
    : { kind: 'single', index: state.index, x: state.x };
}
