import { type ArtifactRule, artifactRule, type JobKind, type JobParams, type ParamsOf } from '@obelm/core';
import {
  type CleanStart,
  type DiffusionModel,
  edit,
  type InterpolationEnd,
  interpolate,
  invert,
  type LastEps,
  type PipelineOptions,
  reconstruct,
  restartState,
  type SamplerState,
  sample,
  type Tensor,
} from '@obelm/engine';
import { checkArtifact, type NoiseArtifact, type NoiseMetadata } from '@obelm/models';
import { WorkerError } from '../errors.ts';
import { noiseEpsDrift, roundTripError } from './measure.ts';
import type { JobRunner, RunRequest, RunResult } from './runner.ts';

/** Model timestep of the clean-end inversion call: the official 1 (docs/math.md §2), the same for every job. */
const FIRST_INVERSION_TIMESTEP = 1;

/**
 * The engine pipeline for each job kind, with the job's resolved parameters of that kind. A noise input is used
 * as core's artifact rules say (where on the grid it starts the run) and checked against this run's settings
 * first: a state from another grid or sampler would decode to garbage.
 */
export const pipelineRunner: JobRunner = async (req) => {
  const result = await runPipeline(req);
  // Noise from other hardware: one more model call measures how far this hardware's eps is from the maker's.
  // Only a measurement: if that call fails (not a stop or cancel), the finished run keeps its outputs without it.
  const drift = await noiseEpsDrift(req).catch((error: unknown) => {
    if (req.signal.aborted) throw error;
    return undefined;
  });
  return drift === undefined ? result : { ...result, metrics: { ...result.metrics, noiseEpsDrift: drift } };
};

function runPipeline(req: RunRequest): Promise<RunResult> {
  const { params } = req;
  switch (params.kind) {
    case 'invert':
      return runInvert({ ...req, params });
    case 'sample':
      return runSample({ ...req, params });
    case 'edit':
      return runEdit({ ...req, params });
    case 'reconstruct':
      return runReconstruct({ ...req, params });
    case 'interpolate':
      return runInterpolate({ ...req, params });
  }
}

type Run<K extends JobKind> = RunRequest<ParamsOf<K>>;

async function runInvert(req: Run<'invert'>): Promise<RunResult> {
  const { model, params } = req;
  // A sample job's kept pair retraces that job's trajectory back to its starting noise (the rule checks it was
  // sampled in this run's field); anything else inverts an image.
  const noise = noiseAt(req, 0);
  const start = noise ? { state: noise.artifact.state } : { image: imageAt(req, 0) };
  const result = await invert(model, { ...options(req), ...start, prompt: params.prompt });
  return {
    images: [],
    noise: artifact(req, result.state, params.prompt, 0, { lastEps: result.lastEps, origin: result.latent }),
    settings: { ...settings(params), ...(noise ? { fromNoise: noise.jobId } : {}) },
    metrics: {},
  };
}

async function runSample(req: Run<'sample'>): Promise<RunResult> {
  const { model, params } = req;
  const noise = noiseAt(req, 0);
  if (!noise && params.seed === undefined) {
    throw new WorkerError('invalid_job', 'a sample job needs a noise input or a seed');
  }
  const start = noise ? { state: noise.artifact.state } : { seed: params.seed };
  const result = await sample(model, { ...options(req), prompt: params.prompt, ...start });
  // Sampling an inversion back in the field it was inverted in is a reconstruction: measured against its x_0.
  const error = noise && roundTripError(noise.artifact, params, result.latent);
  return {
    images: [result.image],
    // The final pair (x_1, x_0): inverting this image from it gives back the starting noise exactly.
    noise: artifact(req, result.state, params.prompt, 0, { lastEps: result.lastEps }),
    settings: { ...settings(params), ...(noise ? { fromNoise: noise.jobId } : { seed: params.seed }) },
    metrics: error === undefined ? {} : { latentMaxAbsError: error },
  };
}

async function runEdit(req: Run<'edit'>): Promise<RunResult> {
  const { model, params } = req;
  const restart = model.defaults.editRestart;
  const noise = noiseAt(req, 0);
  if (noise?.rule.start === 'resample') {
    // Reuse an earlier inversion: only the sampling half of the edit runs, from the stored state.
    const result = await sample(model, {
      ...options(req),
      prompt: params.targetPrompt,
      state: restartState(noise.artifact.state, restart),
    });
    return {
      images: [result.image],
      noise: noise.artifact,
      settings: {
        ...settings(params),
        restart,
        freeze: noise.artifact.meta.freezeIndex,
        fromNoise: noise.jobId,
      },
      metrics: {},
    };
  }
  // An image, or a generated image's kept pair (x_1, x_0): the partial inversion of the latter starts on the
  // trajectory that made it, instead of from x_0 alone (docs/math.md §4, docs/demo-model.md §5).
  const start: CleanStart = noise ? { state: noise.artifact.state } : { image: imageAt(req, 0) };
  const result = await edit(model, {
    ...options(req),
    ...start,
    sourcePrompt: params.sourcePrompt,
    targetPrompt: params.targetPrompt,
    strength: params.strength,
    restart,
  });
  return {
    images: [result.image],
    noise: artifact(req, result.inverted, params.sourcePrompt, result.freeze, {
      lastEps: result.invertedLastEps,
      origin: result.latent,
    }),
    settings: {
      ...settings(params),
      strength: params.strength,
      freeze: result.freeze,
      restart,
      ...(noise ? { fromNoise: noise.jobId } : {}),
    },
    metrics: {},
  };
}

async function runReconstruct(req: Run<'reconstruct'>): Promise<RunResult> {
  const { model, params } = req;
  const result = await reconstruct(model, { ...options(req), image: imageAt(req, 0), prompt: params.prompt });
  return {
    images: [result.image],
    settings: settings(params),
    metrics: { latentMaxAbsError: result.latentMaxAbsError, pixelMse: result.pixelMse },
    errorMap: result.errorMap,
  };
}

async function runInterpolate(req: Run<'interpolate'>): Promise<RunResult> {
  const { params } = req;
  const end = (n: number): InterpolationEnd => {
    const noise = noiseAt(req, n);
    return noise ? { state: noise.artifact.state } : { image: imageAt(req, n) };
  };
  const result = await interpolate(req.model, {
    ...options(req),
    from: end(0),
    to: end(1),
    weights: params.weights,
    prompt: params.prompt,
  });
  return { images: result.images, settings: { ...settings(params), weights: params.weights }, metrics: {} };
}

/** The pipeline options every kind shares. */
function options(req: RunRequest): PipelineOptions {
  const { params } = req;
  return {
    sampler: params.sampler,
    steps: params.steps,
    guidance: params.guidance,
    negativePrompt: params.negativePrompt,
    firstInversionTimestep: FIRST_INVERSION_TIMESTEP,
    signal: req.signal,
    resume: req.resume,
    onProgress: req.onStep,
  };
}

function settings(params: JobParams): Record<string, unknown> {
  return {
    steps: params.steps,
    sampler: params.sampler,
    guidance: params.guidance,
    negativePrompt: params.negativePrompt,
    firstInversionTimestep: FIRST_INVERSION_TIMESTEP,
  };
}

/**
 * The noise artifact a run keeps, with where its eps were computed and what lets other hardware measure itself
 * against it: its last eps and, for an inversion, the x_0 it started from.
 */
function artifact(
  req: RunRequest,
  state: SamplerState,
  prompt: string,
  freezeIndex: number,
  measures: { readonly lastEps?: LastEps; readonly origin?: Float64Array },
): NoiseArtifact {
  return {
    state,
    meta: { ...runMeta(req.model, req.params), prompt, freezeIndex, provenance: req.hardware },
    ...(measures.lastEps ? { lastEps: measures.lastEps } : {}),
    ...(measures.origin ? { origin: measures.origin } : {}),
  };
}

/** The metadata fields a noise artifact (or a checkpoint) must share with a run that starts from it. */
export function runMeta(
  model: DiffusionModel,
  params: JobParams,
): Omit<NoiseMetadata, 'prompt' | 'freezeIndex'> {
  return {
    bundleId: model.id,
    schedule: model.schedule,
    steps: params.steps,
    sampler: params.sampler,
    negativePrompt: params.negativePrompt,
    guidance: params.guidance,
    firstInversionTimestep: FIRST_INVERSION_TIMESTEP,
    imageSize: model.imageSize,
    latentShape: model.latentShape,
  };
}

/** The prompt a run's own trajectory is in: what a kept pair must have been sampled with to retrace it. */
const runPrompt = (params: JobParams): string => ('prompt' in params ? params.prompt : params.sourcePrompt);

function imageAt(req: RunRequest, n: number): Tensor {
  const input = req.inputs[n];
  if (input?.type !== 'image') throw new WorkerError('invalid_job', `input ${n} must be an image`);
  return input.pixels;
}

/**
 * Input `n` when it is a noise artifact, with the rule by which this job uses it (core artifacts.ts), after
 * checking the artifact's metadata against this run as that rule says. Undefined when the input is an image.
 */
function noiseAt(
  req: RunRequest,
  n: number,
): { artifact: NoiseArtifact; rule: ArtifactRule; jobId: string } | undefined {
  const input = req.inputs[n];
  if (input?.type !== 'noise') return undefined;
  const rule = artifactRule(req.params.kind, input.jobKind);
  if (!rule) {
    throw new WorkerError(
      'invalid_job',
      `input ${n} is the noise of a ${input.jobKind} job, which cannot start a ${req.params.kind} job`,
    );
  }
  checkArtifact(
    input.artifact.meta,
    { ...runMeta(req.model, req.params), prompt: runPrompt(req.params) },
    rule,
  );
  return { artifact: input.artifact, rule, jobId: input.jobId };
}
