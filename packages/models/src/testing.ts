/**
 * @obelm/models/testing: fixtures for tests and benchmarks, kept out of the package's main entry point.
 * A tiny random-weight SD bundle and CLIP tokenizer in the real export layouts, an analytic Gaussian bundle
 * whose exact noise predictor is known, and the ONNX graph builder they are written with.
 */

export { buildGaussianGraph, type GaussianSpec } from './demo/gaussian.ts';
export { writeGaussianBundle } from './demo/gaussianBundle.ts';
export { attr, GraphBuilder, type OnnxAttr, type OnnxData } from './onnx/graph.ts';
export { cudaProviderInstalled } from './runtime/cudaLibrary.ts';
export { stopSessionThread } from './runtime/sessionThread.ts';
export {
  SD2_V_SCHEDULER_CONFIG,
  SD15_SCHEDULER_CONFIG,
  TINY_SD_FLAVORS,
  type TinySdEncoder,
  type TinySdFlavor,
  type TinySdLayout,
  type TinySdOptions,
  tinySd,
  writeTinySdBundle,
  writeTinySdExport,
} from './sd/tiny.ts';
export { type TinyTokenizerOptions, tinyTokenizerWords, writeTinyClipTokenizer } from './tokenizer/tiny.ts';
