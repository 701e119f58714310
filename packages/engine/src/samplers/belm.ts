import {
  bdiaForward,
  bdiaInverse,
  ddimCoefficients,
  obelmForward,
  obelmInverse,
  type TwoStepCoefficients,
} from './coefficients.ts';
import { predict, type Sampler, timestepAt } from './context.ts';
import { combine2, combine3 } from './kernels.ts';

/** Coefficients of one 2-step update from A = abar_{i+1}, B = abar_i, C = abar_{i-1}. */
type TwoStepRule = (A: number, B: number, C: number) => TwoStepCoefficients;

/**
 * A 2-step BELM sampler run exactly as the official code runs it (docs/math.md §4). From a single state the
 * first step is DDIM (one NFE); from a pair every step is the 2-step affine bijection, which is what makes
 * the round trip exact. eps is always taken at the middle state x_i, tau_i.
 */
function twoStepSampler(forward: TwoStepRule, inverse: TwoStepRule): Sampler {
  return {
    callsPerStep: 1,

    async sampleStep(state, ctx) {
      const { abar } = ctx.grid;
      if (state.kind !== 'pair') {
        // Only x_i exists: DDIM to x_{i-1}, keeping both as the pair.
        const { index: i, x } = state;
        const eps = await predict(ctx, x, timestepAt(ctx, i));
        const c = ddimCoefficients(abar[i]!, abar[i - 1]!);
        return { kind: 'pair', index: i, upper: x, lower: combine2(c.x, x, c.eps, eps) };
      }
      // (x_{i+1}, x_i) -> (x_i, x_{i-1}), i = index - 1.
      const i = state.index - 1;
      const eps = await predict(ctx, state.lower, timestepAt(ctx, i));
      const c = forward(abar[i + 1]!, abar[i]!, abar[i - 1]!);
      const next = combine3(c.far, state.upper, c.mid, state.lower, c.eps, eps);
      return { kind: 'pair', index: i, upper: state.lower, lower: next };
    },

    async invertStep(state, ctx) {
      const { abar } = ctx.grid;
      if (state.kind !== 'pair') {
        // Only x_i exists (x_0 officially): DDIM inversion to x_{i+1}; at i = 0 the model gets the
        // configurable first-inversion timestep (docs/math.md §2, official 1).
        const { index: i, x } = state;
        const eps = await predict(ctx, x, timestepAt(ctx, i));
        const c = ddimCoefficients(abar[i]!, abar[i + 1]!);
        return { kind: 'pair', index: i + 1, upper: combine2(c.x, x, c.eps, eps), lower: x };
      }
      // (x_i, x_{i-1}) -> (x_{i+1}, x_i), i = index.
      const i = state.index;
      const eps = await predict(ctx, state.upper, timestepAt(ctx, i));
      const c = inverse(abar[i + 1]!, abar[i]!, abar[i - 1]!);
      const next = combine3(c.far, state.lower, c.mid, state.upper, c.eps, eps);
      return { kind: 'pair', index: i + 1, upper: next, lower: state.upper };
    },
  };
}

/** O-BELM (docs/math.md §3): the second-order, exactly invertible member a2 = (h_i / h_{i+1})^2. */
export const obelm: Sampler = twoStepSampler(obelmForward, obelmInverse);

/** BDIA(gamma) (docs/math.md §5): a2 = gamma alpha_{i+1} / alpha_{i-1}; gamma = 1 is time-reversible. */
export function bdia(gamma: number): Sampler {
  return twoStepSampler(
    (A, B, C) => bdiaForward(A, B, C, gamma),
    (A, B, C) => bdiaInverse(A, B, C, gamma),
  );
}
