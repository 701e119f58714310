import type { SamplerState } from '../types.ts';
import { ddimCoefficients } from './coefficients.ts';
import { predict, type Sampler, type StepContext } from './context.ts';
import { combine2, solve2 } from './kernels.ts';

type Coupled = Extract<SamplerState, { kind: 'coupled' }>;

/** Both sequences at the frontier; a lone state x starts EDICT with y = x (the official initialisation). */
function coupled(state: SamplerState, direction: 'sample' | 'invert'): Coupled {
  if (state.kind === 'coupled') return state;
  if (state.kind === 'single') return { kind: 'coupled', index: state.index, x: state.x, y: state.x };
  const [index, x] = direction === 'sample' ? [state.index - 1, state.lower] : [state.index, state.upper];
  return { kind: 'coupled', index, x, y: x };
}

/** mix(a, b) = p a + (1 - p) b, EDICT's averaging layer. */
function mix(p: number, a: Float64Array, b: Float64Array): Float64Array {
  return combine2(p, a, 1 - p, b);
}

/**
 * EDICT(p), the BELM-repo variant (docs/math.md §6, paper eq. 9 / 22): x is updated first every step, both
 * model calls at tau_i, a_i = alpha_{i-1}/alpha_i and b_i = sigma_{i-1} - a_i sigma_i (the DDIM
 * coefficients).
 */
export function edict(p: number): Sampler {
  const tau = (ctx: StepContext, i: number) => ctx.grid.timesteps[i]!;
  return {
    callsPerStep: 2,

    async sampleStep(state, ctx) {
      const { index: i, x, y } = coupled(state, 'sample');
      const c = ddimCoefficients(ctx.grid.abar[i]!, ctx.grid.abar[i - 1]!);
      const xInter = combine2(c.x, x, c.eps, await predict(ctx, y, tau(ctx, i)));
      const yInter = combine2(c.x, y, c.eps, await predict(ctx, xInter, tau(ctx, i)));
      const xNext = mix(p, xInter, yInter);
      const yNext = mix(p, yInter, xNext);
      return { kind: 'coupled', index: i - 1, x: xNext, y: yNext };
    },

    async invertStep(state, ctx) {
      // Undo the sampling step from i + 1 to i, operation by operation in reverse.
      const { index, x, y } = coupled(state, 'invert');
      const i = index + 1;
      const c = ddimCoefficients(ctx.grid.abar[i]!, ctx.grid.abar[i - 1]!);
      const yInter = solve2(y, -(1 - p), x, p);
      const xInter = solve2(x, -(1 - p), yInter, p);
      const yPrev = solve2(yInter, -c.eps, await predict(ctx, xInter, tau(ctx, i)), c.x);
      const xPrev = solve2(xInter, -c.eps, await predict(ctx, yPrev, tau(ctx, i)), c.x);
      return { kind: 'coupled', index: i, x: xPrev, y: yPrev };
    },
  };
}
