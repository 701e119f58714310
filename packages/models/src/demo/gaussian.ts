/**
 * The analytic Gaussian model (docs/math.md §11.1): data N(mu, diag s^2) has the exact noise predictor
 *
 *   eps*(x, abar) = sqrt(1 - abar) (x - sqrt(abar) mu) / (abar s^2 + 1 - abar)
 *
 * and a closed-form probability-flow ODE solution, so it is the ground truth for sampler accuracy. Here it
 * is an ONNX graph (unconditional: `sample`, `timestep` -> `out_sample`) to test bundles end to end; tests
 * check it against the engine's float64 `gaussianEps` (packages/engine/src/analytic/predictors.ts).
 */
import { attr, GraphBuilder } from '../onnx/graph.ts';

export interface GaussianSpec {
  /** Per-coordinate mean, length D = product of the image shape. */
  readonly mu: Float64Array;
  /** Per-coordinate standard deviation s (> 0), length D. */
  readonly s: Float64Array;
  /** Shape of one sample without the batch axis, e.g. [3, 8, 8]. */
  readonly shape: readonly number[];
}

export function buildGaussianGraph(spec: GaussianSpec, alphasCumprod: Float64Array): Uint8Array {
  const D = spec.mu.length;
  const T = alphasCumprod.length;
  const g = new GraphBuilder('obelm-analytic-gaussian');
  const sample = g.input('sample', 'float32', ['batch', ...spec.shape]);
  const timestep = g.input('timestep', 'int64', ['batch']);
  const mu = g.initializer('mu', 'float32', [D], Float32Array.from(spec.mu));
  const s2 = g.initializer(
    's2',
    'float32',
    [D],
    Float32Array.from(spec.s, (s) => s * s),
  );
  const axis1 = g.initializer('axes_1', 'int64', [1], BigInt64Array.of(1n));
  const column = (name: string, f: (abar: number) => number) => {
    const table = g.initializer(name, 'float32', [T], Float32Array.from(alphasCumprod, f));
    return g.node('Unsqueeze', [g.node('Gather', [table, timestep], { axis: attr.int(0) }), axis1]); // [B, 1]
  };

  const x = g.node('Flatten', [sample], { axis: attr.int(1) });
  const centred = g.node('Sub', [x, g.node('Mul', [column('sqrt_abar', Math.sqrt), mu])]);
  const numerator = g.node('Mul', [column('sqrt_one_minus_abar', (a) => Math.sqrt(1 - a)), centred]);
  const denominator = g.node('Add', [
    g.node('Mul', [column('abar', (a) => a), s2]),
    column('one_minus_abar', (a) => 1 - a),
  ]);
  g.node('Reshape', [g.node('Div', [numerator, denominator]), g.node('Shape', [sample])], {}, 'out_sample');
  g.output('out_sample', 'float32', ['batch', ...spec.shape]);
  return g.toBytes();
}
