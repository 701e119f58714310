/**
 * The demo model's eps (mixture.ts) as an ONNX graph with Stable Diffusion's UNet I/O names, so it runs
 * through onnxruntime exactly like a UNet (docs/demo-model.md §3):
 *   sample f32[B,3,H,W], timestep int64[B], encoder_hidden_states f32[B,1,K] (the log-prior) -> out_sample.
 *
 * The centred means are initializers (not an input): the model file is self-contained like a real UNet
 * export, and the loader needs no demo-specific code on the eps path. No graph input has a default
 * (onnxruntime silently ignores feeds for inputs that also have an initializer).
 */
import { attr, GraphBuilder } from '../onnx/graph.ts';
import type { CentredMixture, MixtureTables } from './mixture.ts';

export interface DemoGraphSpec {
  readonly mixture: CentredMixture;
  readonly tables: MixtureTables;
  /** [channels, height, width] of one image; channels * height * width must equal mixture.dim. */
  readonly imageShape: readonly [number, number, number];
}

export function buildDemoGraph({ mixture, tables, imageShape }: DemoGraphSpec): Uint8Array {
  const { components: K, dim: D } = mixture;
  const T = tables.alpha.length;
  const g = new GraphBuilder('obelm-demo-gmm');
  const sample = g.input('sample', 'float32', ['batch', ...imageShape]);
  const timestep = g.input('timestep', 'int64', ['batch']);
  const logPriorIn = g.input('encoder_hidden_states', 'float32', ['batch', 1, K]);

  const meansC = g.initializer('means_c', 'float32', [K, D], Float32Array.from(mixture.centred));
  const norms2 = g.initializer('nrm2', 'float32', [K], Float32Array.from(mixture.norms2));
  const mean = g.initializer('mbar', 'float32', [D], Float32Array.from(mixture.mean));
  const axis1 = g.initializer('axes_1', 'int64', [1], BigInt64Array.of(1n));
  const table = (key: keyof MixtureTables) =>
    g.initializer(`tab_${key}`, 'float32', [T], Float32Array.from(tables[key]));
  // A per-row coefficient column [B, 1]: table[timestep].
  const column = (key: keyof MixtureTables) =>
    g.node('Unsqueeze', [g.node('Gather', [table(key), timestep], { axis: attr.int(0) }), axis1]);

  const x = g.node('Flatten', [sample], { axis: attr.int(1) }); // [B, D]
  const logPrior = g.node('Flatten', [logPriorIn], { axis: attr.int(1) }); // [B, K]
  const alpha = column('alpha');
  const xc = g.node('Sub', [x, g.node('Mul', [alpha, mean])]); // x^c = x - alpha mubar
  const dots = g.node('Gemm', [xc, meansC], { transB: attr.int(1) }); // [B, K]: x^c . mu_k^c
  const logits = g.node('Add', [
    g.node('Add', [g.node('Mul', [dots, column('A')]), g.node('Mul', [column('B'), norms2])]),
    logPrior,
  ]);
  const r = g.node('Softmax', [logits], { axis: attr.int(-1) }); // max-subtracted by definition
  const posteriorMean = g.node('MatMul', [r, meansC]); // [B, D]: r @ Mc
  const eps = g.node('Add', [
    g.node('Mul', [column('C1'), xc]),
    g.node('Mul', [column('C2'), posteriorMean]),
  ]);
  g.node('Reshape', [eps, g.node('Shape', [sample])], {}, 'out_sample');
  g.output('out_sample', 'float32', ['batch', ...imageShape]);
  return g.toBytes();
}
