/**
 * @obelm/engine: schedules, grids, the O-BELM / DDIM / BDIA / EDICT samplers with exact inversion, CFG, seeded
 * noise, analytic test models and the pipelines over an abstract DiffusionModel. Pure math: no I/O.
 */

export { gaussianFlow, solveFlowOde } from './analytic/ode.ts';
export {
  atTimesteps,
  type ContinuousEps,
  type GaussianData,
  gaussianEps,
  type MixtureData,
  mixtureEps,
} from './analytic/predictors.ts';
export { guidedEps } from './cfg.ts';
export { EngineError, type EngineErrorCode } from './errors.ts';
export { buildGrid, sbar } from './grid.ts';
export { gaussianNoise } from './noise.ts';
export { type EditRequest, type EditResult, edit, freezeSteps } from './pipelines/edit.ts';
export type { CleanStart } from './pipelines/images.ts';
export {
  type InterpolateRequest,
  type InterpolateResult,
  type InterpolationEnd,
  interpolate,
} from './pipelines/interpolate.ts';
export { type InvertRequest, type InvertResult, invert } from './pipelines/invert.ts';
export { type EpsAtRequest, epsAt, type LastEps } from './pipelines/lastEps.ts';
export type { DiffusionModel, ModelDefaults, ScheduleConfig } from './pipelines/model.ts';
export type { PipelineCheckpoint, PipelineOptions, PipelineProgress } from './pipelines/options.ts';
export { type ReconstructRequest, type ReconstructResult, reconstruct } from './pipelines/reconstruct.ts';
export { type SampleRequest, type SampleResult, sample } from './pipelines/sample.ts';
export {
  bdiaForward,
  bdiaInverse,
  ddimCoefficients,
  obelmForward,
  obelmInverse,
  type TwoStepCoefficients,
} from './samplers/coefficients.ts';
export type { Direction } from './samplers/context.ts';
export { runSampler, samplerFor, stepsBetween } from './samplers/run.ts';
export {
  frontier,
  frontierState,
  namedStateArrays,
  restartState,
  type StateTensor,
  stateArrays,
} from './samplers/state.ts';
export { alphasCumprod, inferenceTimesteps, roundHalfEven, SD_SCHEDULE } from './schedule.ts';
export { slerp } from './slerp.ts';
export { maxAbsDifference, numel, tensor } from './tensor.ts';
export type {
  ConditionalEpsPredictor,
  Embedding,
  EpsPredictor,
  Grid,
  RowwiseEpsPredictor,
  RunOptions,
  SamplerSpec,
  SamplerState,
  StepProgress,
  Tensor,
} from './types.ts';
