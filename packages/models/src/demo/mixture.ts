/**
 * The demo model's closed-form noise predictor: the exact eps of p0 = sum_k w_k N(mu_k, s^2 I) under the
 * VP forward process (docs/demo-model.md §2; docs/math.md §11.2 with one shared isotropic variance).
 * With alpha = sqrt(abar_t), sigma = sqrt(1 - abar_t), v = alpha^2 s^2 + sigma^2, the mean image mubar,
 * mu_k^c = mu_k - mubar and x^c = x - alpha mubar (an exact re-centring that shrinks the logits):
 *
 *   logits_k = log w_k + A (x^c . mu_k^c) + B ||mu_k^c||^2      A = alpha / v,  B = -alpha^2 / (2 v)
 *   r        = softmax(logits)                                   (||x||^2 cancels)
 *   eps      = C1 x^c + C2 (r @ Mc)                              C1 = sigma / v, C2 = -sigma alpha / v
 *
 * Everything here is float64; `graph.ts` stores these tables as float32 initializers.
 */

export interface CentredMixture {
  readonly components: number;
  readonly dim: number;
  /** mubar [D]. */
  readonly mean: Float64Array;
  /** mu_k - mubar, [K, D] row-major. */
  readonly centred: Float64Array;
  /** ||mu_k - mubar||^2, [K]. */
  readonly norms2: Float64Array;
}

/** Per-timestep coefficient tables, indexed by the model timestep t = 0..T-1. */
export interface MixtureTables {
  readonly alpha: Float64Array;
  readonly A: Float64Array;
  readonly B: Float64Array;
  readonly C1: Float64Array;
  readonly C2: Float64Array;
}

export function centreMixture(means: Float64Array, components: number): CentredMixture {
  const dim = means.length / components;
  const mean = new Float64Array(dim);
  for (let k = 0; k < components; k++)
    for (let i = 0; i < dim; i++) mean[i]! += means[k * dim + i]! / components;
  const centred = new Float64Array(means.length);
  const norms2 = new Float64Array(components);
  for (let k = 0; k < components; k++) {
    for (let i = 0; i < dim; i++) {
      const c = means[k * dim + i]! - mean[i]!;
      centred[k * dim + i] = c;
      norms2[k]! += c * c;
    }
  }
  return { components, dim, mean, centred, norms2 };
}

/**
 * The coefficients above (docs/demo-model.md §2) for every training timestep, from alphas_cumprod and the
 * component std s.
 */
export function mixtureTables(alphasCumprod: Float64Array, s: number): MixtureTables {
  const n = alphasCumprod.length;
  const tables = {
    alpha: new Float64Array(n),
    A: new Float64Array(n),
    B: new Float64Array(n),
    C1: new Float64Array(n),
    C2: new Float64Array(n),
  };
  for (let t = 0; t < n; t++) {
    const abar = alphasCumprod[t]!;
    const alpha = Math.sqrt(abar);
    const sigma = Math.sqrt(1 - abar);
    const v = abar * s * s + (1 - abar);
    tables.alpha[t] = alpha;
    tables.A[t] = alpha / v;
    tables.B[t] = -abar / (2 * v);
    tables.C1[t] = sigma / v;
    tables.C2[t] = (-sigma * alpha) / v;
  }
  return tables;
}

/**
 * Float64 evaluation of eps for a batch x [B, D] at timestep t, with one log-prior row [K] per batch row:
 * the ground truth the ONNX graph is checked against.
 */
export function mixtureEps(
  x: Float64Array,
  t: number,
  logPrior: Float32Array | Float64Array,
  mixture: CentredMixture,
  tables: MixtureTables,
): Float64Array {
  const { components: K, dim: D, mean, centred, norms2 } = mixture;
  const alpha = tables.alpha[t]!;
  const batch = x.length / D;
  const eps = new Float64Array(x.length);
  const xc = new Float64Array(D);
  const logits = new Float64Array(K);
  for (let b = 0; b < batch; b++) {
    for (let i = 0; i < D; i++) xc[i] = x[b * D + i]! - alpha * mean[i]!;
    for (let k = 0; k < K; k++) {
      let dot = 0;
      for (let i = 0; i < D; i++) dot += xc[i]! * centred[k * D + i]!;
      logits[k] = logPrior[b * K + k]! + tables.A[t]! * dot + tables.B[t]! * norms2[k]!;
    }
    const r = softmax(logits);
    for (let i = 0; i < D; i++) {
      let pm = 0;
      for (let k = 0; k < K; k++) pm += r[k]! * centred[k * D + i]!;
      eps[b * D + i] = tables.C1[t]! * xc[i]! + tables.C2[t]! * pm;
    }
  }
  return eps;
}

/** Max-subtracted softmax (log-sum-exp), so logits of ~1e5 and masks of -1e30 stay finite. */
function softmax(logits: Float64Array): Float64Array {
  let max = Number.NEGATIVE_INFINITY;
  for (const l of logits) max = Math.max(max, l);
  const out = logits.map((l) => Math.exp(l - max));
  const sum = out.reduce((a, b) => a + b, 0);
  return out.map((e) => e / sum);
}
