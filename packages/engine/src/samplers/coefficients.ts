import { sbar } from '../grid.ts';

/** x_to = x * x + eps * eps_theta: a one-step (DDIM) update between two abar values. */
export interface OneStepCoefficients {
  readonly x: number;
  readonly eps: number;
}

/**
 * A two-step BELM update (docs/math.md §3.1, paper eq. 15, in x):
 * x_new = far * x_far + mid * x_mid + eps * eps_theta(x_mid).
 * Sampling: far = x_{i+1}, mid = x_i, new = x_{i-1}. Inversion: far = x_{i-1}, mid = x_i, new = x_{i+1}.
 */
export interface TwoStepCoefficients {
  readonly far: number;
  readonly mid: number;
  readonly eps: number;
}

/**
 * DDIM from abar `from` to abar `to` (docs/math.md §2, paper eqs. 7/8; the same formula serves both
 * directions): x_to = (alpha_to/alpha_from) x_from + (sigma_to - alpha_to sigma_from / alpha_from) eps.
 */
export function ddimCoefficients(from: number, to: number): OneStepCoefficients {
  const alphaFrom = Math.sqrt(from);
  const alphaTo = Math.sqrt(to);
  const sigmaFrom = Math.sqrt(1 - from);
  const sigmaTo = Math.sqrt(1 - to);
  return { x: alphaTo / alphaFrom, eps: sigmaTo - (alphaTo * sigmaFrom) / alphaFrom };
}

/** h_{i+1}, h_i and r = h_i / h_{i+1} for A = abar_{i+1}, B = abar_i, C = abar_{i-1} (docs/math.md §3.2). */
function stepSizes(A: number, B: number, C: number) {
  const hUpper = sbar(A) - sbar(B);
  const hLower = sbar(B) - sbar(C);
  return { hUpper, hLower, r: hLower / hUpper };
}

/**
 * O-BELM sampling, paper eq. 18 (docs/math.md §3.2), a2 = r^2 kills the h^2 error term (Prop. 4):
 * x_{i-1} = r^2 sqrt(C/A) x_{i+1} + (1 - r^2) sqrt(C/B) x_i - sqrt(C) h_i (1 + r) eps_i.
 */
export function obelmForward(A: number, B: number, C: number): TwoStepCoefficients {
  const { hLower, r } = stepSizes(A, B, C);
  const r2 = r * r;
  return {
    far: r2 * Math.sqrt(C / A),
    mid: (1 - r2) * Math.sqrt(C / B),
    eps: -Math.sqrt(C) * hLower * (1 + r),
  };
}

/**
 * O-BELM exact inversion, paper eq. 19 (docs/math.md §3.3):
 * x_{i+1} = r^-2 sqrt(A/C) x_{i-1} + (1 - r^-2) sqrt(A/B) x_i + sqrt(A) h_{i+1} (1 + 1/r) eps_i.
 */
export function obelmInverse(A: number, B: number, C: number): TwoStepCoefficients {
  const { hUpper, r } = stepSizes(A, B, C);
  const rInv2 = 1 / (r * r);
  return {
    far: rInv2 * Math.sqrt(A / C),
    mid: (1 - rInv2) * Math.sqrt(A / B),
    eps: Math.sqrt(A) * hUpper * (1 + 1 / r),
  };
}

/**
 * BDIA(gamma) sampling, paper eq. 24 (docs/math.md §5):
 * x_{i-1} = gamma x_{i+1} + (alpha_{i-1} - gamma alpha_{i+1})/alpha_i x_i
 *           + [(sigma_{i-1} - alpha_{i-1} sigma_i/alpha_i) - gamma (sigma_{i+1} - alpha_{i+1} sigma_i/alpha_i)] eps_i.
 */
export function bdiaForward(A: number, B: number, C: number, gamma: number): TwoStepCoefficients {
  const [aA, aB, aC] = [Math.sqrt(A), Math.sqrt(B), Math.sqrt(C)];
  const [sA, sB, sC] = [Math.sqrt(1 - A), Math.sqrt(1 - B), Math.sqrt(1 - C)];
  return {
    far: gamma,
    mid: (aC - gamma * aA) / aB,
    eps: sC - (aC * sB) / aB - gamma * (sA - (aA * sB) / aB),
  };
}

/**
 * BDIA(gamma) inversion, paper eq. 25 (docs/math.md §5):
 * x_{i+1} = x_{i-1}/gamma + (alpha_{i+1} - alpha_{i-1}/gamma)/alpha_i x_i
 *           + [(sigma_{i+1} - alpha_{i+1} sigma_i/alpha_i) - (sigma_{i-1} - alpha_{i-1} sigma_i/alpha_i)/gamma] eps_i.
 */
export function bdiaInverse(A: number, B: number, C: number, gamma: number): TwoStepCoefficients {
  const [aA, aB, aC] = [Math.sqrt(A), Math.sqrt(B), Math.sqrt(C)];
  const [sA, sB, sC] = [Math.sqrt(1 - A), Math.sqrt(1 - B), Math.sqrt(1 - C)];
  return {
    far: 1 / gamma,
    mid: (aA - aC / gamma) / aB,
    eps: sA - (aA * sB) / aB - (sC - (aC * sB) / aB) / gamma,
  };
}
