import { sbar } from '../grid.ts';
import type { ContinuousEps, GaussianData } from './predictors.ts';

/**
 * The exact probability-flow ODE solution for Gaussian data (docs/math.md §11.1): in xbar = x/alpha,
 * xbar(sbar) = mu + (xbar_from - mu) sqrt((s^2 + sbar^2) / (s^2 + sbar_from^2)).
 */
export function gaussianFlow(
  { mu, s }: GaussianData,
  x: Float64Array,
  abarFrom: number,
  abarTo: number,
): Float64Array {
  const [alphaFrom, alphaTo] = [Math.sqrt(abarFrom), Math.sqrt(abarTo)];
  const [sFrom, sTo] = [sbar(abarFrom), sbar(abarTo)];
  const out = new Float64Array(x.length);
  for (let j = 0; j < x.length; j++) {
    const k = j % mu.length;
    const s2 = s[k]! ** 2;
    const ratio = Math.sqrt((s2 + sTo * sTo) / (s2 + sFrom * sFrom));
    out[j] = alphaTo * (mu[k]! + (x[j]! / alphaFrom - mu[k]!) * ratio);
  }
  return out;
}

/**
 * Reference ODE solver: classical RK4 on d xbar / d sbar = eps(alpha xbar, abar) (docs/math.md §2) in
 * u = sqrt(sbar), d xbar / du = 2u eps. The substitution smooths the flow near the data end, where sbar
 * grows like sqrt(t) (docs/math.md §1.3). 2000 steps converge to ~1e-12 on the test data (docs/math.md §11).
 */
export function solveFlowOde(
  eps: ContinuousEps,
  x: Float64Array,
  abarFrom: number,
  abarTo: number,
  steps = 2000,
): Float64Array {
  const uFrom = Math.sqrt(sbar(abarFrom));
  const uTo = Math.sqrt(sbar(abarTo));
  const du = (uTo - uFrom) / steps;
  const n = x.length;
  const rate = (xbar: Float64Array, u: number): Float64Array => {
    const sb = u * u;
    const abar = 1 / (1 + sb * sb);
    const alpha = Math.sqrt(abar);
    const xs = new Float64Array(n);
    for (let j = 0; j < n; j++) xs[j] = alpha * xbar[j]!;
    const e = eps(xs, abar);
    for (let j = 0; j < n; j++) e[j] = 2 * u * e[j]!;
    return e;
  };
  const shifted = (base: Float64Array, k: Float64Array, h: number) => base.map((v, j) => v + h * k[j]!);
  let xbar = x.map((v) => v / Math.sqrt(abarFrom));
  for (let step = 0; step < steps; step++) {
    const u = uFrom + step * du;
    const k1 = rate(xbar, u);
    const k2 = rate(shifted(xbar, k1, du / 2), u + du / 2);
    const k3 = rate(shifted(xbar, k2, du / 2), u + du / 2);
    const k4 = rate(shifted(xbar, k3, du), u + du);
    xbar = xbar.map((v, j) => v + (du / 6) * (k1[j]! + 2 * k2[j]! + 2 * k3[j]! + k4[j]!));
  }
  return xbar.map((v) => v * Math.sqrt(abarTo));
}
