import { ddimCoefficients } from './coefficients.ts';
import { predict, type Sampler, timestepAt } from './context.ts';
import { combine2 } from './kernels.ts';
import { frontierState } from './state.ts';

/** DDIM: explicit Euler in sbar (docs/math.md §2, paper eq. 7), and its inexact inversion (paper eq. 8). */
export const ddim: Sampler = {
  callsPerStep: 1,

  async sampleStep(state, ctx) {
    const { index: i, x } = frontierState(state, 'sample');
    const eps = await predict(ctx, x, timestepAt(ctx, i));
    const c = ddimCoefficients(ctx.grid.abar[i]!, ctx.grid.abar[i - 1]!);
    return { kind: 'single', index: i - 1, x: combine2(c.x, x, c.eps, eps) };
  },

  async invertStep(state, ctx) {
    // eps is taken at the cleaner state x_i (at i = 0 with the configurable timestep), hence inexact.
    const { index: i, x } = frontierState(state, 'invert');
    const eps = await predict(ctx, x, timestepAt(ctx, i));
    const c = ddimCoefficients(ctx.grid.abar[i]!, ctx.grid.abar[i + 1]!);
    return { kind: 'single', index: i + 1, x: combine2(c.x, x, c.eps, eps) };
  },
};
