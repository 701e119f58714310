/**
 * @obelm/models: model bundles over onnxruntime-node (the built-in demo bundle, SD bundles) and the
 * host <-> onnxruntime tensor adapter. Test fixtures (tiny bundles, the ONNX graph builder) are in
 * `@obelm/models/testing`.
 */

export { type CatalogEntryOptions, catalogEntryOf } from './bundle/catalogEntry.ts';
export { RANDOM_OPS, REEXPORT_ADVICE, refuseRandomOps } from './bundle/determinism.ts';
export { type BundleFactory, type LoadOptions, loadBundle, readManifest } from './bundle/load.ts';
export {
  type BundleKind,
  type BundleManifest,
  MANIFEST_FILE,
  type PixelConditioning,
  parseManifest,
  type StepLimits,
} from './bundle/manifest.ts';
export type { LoadedModel } from './bundle/model.ts';
export {
  type EpsFromOutput,
  epsFromOutput,
  PREDICTION_TYPES,
  type PredictionType,
} from './bundle/prediction.ts';
export { type BundleValidation, type ValidateOptions, validateBundle } from './bundle/validate.ts';
export { writeBundle } from './bundle/write.ts';
export {
  buildDemoModel,
  DEMO_BUNDLE_ID,
  DEMO_DEFAULTS,
  DEMO_SCHEDULE,
  DEMO_STD,
  defaultModelCacheDir,
  demoManifest,
  ensureDemoBundle,
} from './demo/bundle.ts';
export {
  BACKGROUNDS,
  COLOURS,
  DEMO_VOCABULARY,
  type DemoDataset,
  type DemoItem,
  demoDataset,
  demoItems,
  POSITIONS,
  renderItem,
  SHAPES,
} from './demo/dataset.ts';
export {
  type CentredMixture,
  centreMixture,
  type MixtureTables,
  mixtureEps,
  mixtureTables,
} from './demo/mixture.ts';
export { type DemoPrompt, encodeDemoPrompt } from './demo/prompt.ts';
export {
  type DecodeOptions,
  decodeImage,
  defaultImageLimits,
  type EncodeOptions,
  encodeImage,
  ImageError,
  type ImageErrorCode,
  type ImageFormat,
  type ImageLimits,
} from './image/index.ts';
export {
  checkArtifact,
  checkCompatible,
  type F64Tensor,
  type NoiseArtifact,
  type NoiseErrorCode,
  type NoiseExpectation,
  NoiseFileError,
  type NoiseMetadata,
  type NoiseProvenance,
  noiseFormatVersion,
  readNoiseArtifact,
  readSafetensors,
  type SafetensorsFile,
  writeNoiseArtifact,
  writeSafetensors,
} from './noise/index.ts';
export type { OnnxDType } from './onnx/graph.ts';
export { onnxOpTypes } from './onnx/inspect.ts';
export { castForInput, float64ToHalf, type HostTensor, halfToFloat64, widenOutput } from './runtime/cast.ts';
export { addDeviceTime, measureDeviceTime } from './runtime/deviceTime.ts';
export { ModelError, type ModelErrorCode } from './runtime/errors.ts';
export {
  type ExecutionProvider,
  type ModelSession,
  openSession,
  type RuntimeOptions,
  type TensorInfo,
} from './runtime/session.ts';
export { SessionHostDied } from './runtime/sessionThread.ts';
export { onnxruntimeVersion } from './runtime/version.ts';
export {
  inferSdManifest,
  isSdExport,
  openSdBundle,
  SCHEDULER_CONFIG_RULES,
  type SchedulerKeyRule,
  SdModel,
  scalingFactorOf,
  sd15Defaults,
  sd15Schedule,
  sdScalingFactor,
} from './sd/index.ts';
export {
  byteAlphabet,
  type ClipTokenizer,
  clipTokenizerJson,
  loadClipTokenizer,
  parseMerges,
  TokenizerError,
  type TokenizerErrorCode,
} from './tokenizer/index.ts';
