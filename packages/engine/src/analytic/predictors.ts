import { EngineError } from '../errors.ts';
import type { EpsPredictor } from '../types.ts';

/** eps as a function of the continuous noise level abar, for test data with a known exact eps. */
export type ContinuousEps = (x: Float64Array, abar: number) => Float64Array;

/** Gaussian data N(mu, diag s^2), applied per coordinate with mu, s cycling over the last axis. */
export interface GaussianData {
  readonly mu: readonly number[];
  readonly s: readonly number[];
}

/** A diagonal Gaussian mixture: each row of x (length D) is one point. */
export interface MixtureData {
  readonly weights: readonly number[];
  readonly means: readonly (readonly number[])[];
  readonly variances: readonly (readonly number[])[];
}

/**
 * Exact eps of Gaussian data (docs/math.md §11.1):
 * eps*(x, abar) = sqrt(1 - abar) (x - sqrt(abar) mu) / (abar s^2 + 1 - abar).
 */
export function gaussianEps({ mu, s }: GaussianData): ContinuousEps {
  if (mu.length === 0 || mu.length !== s.length) {
    throw new EngineError('shape_mismatch', `gaussian mu and s need the same non-zero length`);
  }
  const d = mu.length;
  return (x, abar) => {
    const alpha = Math.sqrt(abar);
    const sigma = Math.sqrt(1 - abar);
    const out = new Float64Array(x.length);
    for (let j = 0; j < x.length; j++) {
      const k = j % d;
      out[j] = (sigma * (x[j]! - alpha * mu[k]!)) / (abar * s[k]! ** 2 + 1 - abar);
    }
    return out;
  };
}

/**
 * Exact eps of a diagonal Gaussian mixture (docs/math.md §11.2, the vectors' gmm_diag formula): with
 * var_k = alpha^2 v_k + sigma^2, r = softmax_k(log w_k - 1/2 sum_d[(x - alpha m_k)^2 / var_k + log var_k]),
 * eps = sigma sum_k r_k (x - alpha m_k) / var_k.
 */
export function mixtureEps({ weights, means, variances }: MixtureData): ContinuousEps {
  const K = weights.length;
  const D = means[0]?.length ?? 0;
  if (K === 0 || D === 0 || means.length !== K || variances.length !== K) {
    throw new EngineError('shape_mismatch', 'mixture weights, means and variances must have K rows');
  }
  const logits = new Float64Array(K);
  return (x, abar) => {
    if (x.length % D !== 0) {
      throw new EngineError('shape_mismatch', `a mixture state needs rows of ${D}, got ${x.length} values`);
    }
    const alpha = Math.sqrt(abar);
    const sigma = Math.sqrt(1 - abar);
    const out = new Float64Array(x.length);
    for (let row = 0; row < x.length; row += D) {
      let max = Number.NEGATIVE_INFINITY;
      for (let k = 0; k < K; k++) {
        let q = 0;
        for (let d = 0; d < D; d++) {
          const v = alpha * alpha * variances[k]![d]! + sigma * sigma;
          const diff = x[row + d]! - alpha * means[k]![d]!;
          q += (diff * diff) / v + Math.log(v);
        }
        logits[k] = Math.log(weights[k]!) - 0.5 * q;
        max = Math.max(max, logits[k]!);
      }
      let total = 0;
      for (let k = 0; k < K; k++) {
        logits[k] = Math.exp(logits[k]! - max);
        total += logits[k]!;
      }
      for (let d = 0; d < D; d++) {
        let acc = 0;
        for (let k = 0; k < K; k++) {
          const v = alpha * alpha * variances[k]![d]! + sigma * sigma;
          acc += (logits[k]! / total) * ((x[row + d]! - alpha * means[k]![d]!) / v);
        }
        out[row + d] = sigma * acc;
      }
    }
    return out;
  };
}

/** The discrete-time predictor a sampler calls: abar looked up from the training table at integer t. */
export function atTimesteps(eps: ContinuousEps, alphasCumprod: Float64Array): EpsPredictor {
  return async (x, t) => {
    const abar = alphasCumprod[t];
    if (abar === undefined)
      throw new EngineError('invalid_schedule', `timestep ${t} is outside the schedule`);
    return eps(x.data, abar);
  };
}
