import type { JobParams } from '@obelm/core';
import {
  type CleanStart,
  type DiffusionModel,
  edit,
  type InterpolationEnd,
  interpolate,
  invert,
  type PipelineOptions,
  reconstruct,
  restartState,
  type SamplerState,
  sample,
  type Tensor,
} from '@obelm/engine';
import {
  checkCompatible,
  type NoiseArtifact,
  type NoiseExpectation,
  type NoiseMetadata,
} from '@obelm/models';
import { WorkerError } from './errors.ts';
import type { JobRunner, RunInput, RunRequest, RunResult } from './runner.ts';

/** Model timestep of the clean-end inversion call: the official 1 (spec §2), the same for every job. */
const FIRST_INVERSION_TIMESTEP = 1;

/**
 * The engine pipeline for each job kind, with the job's resolved parameters. Noise inputs are checked
 * against the settings of this run first: a state from another grid or sampler would decode to garbage.
 */
export const pipelineRunner: JobRunner = async (req) => {
  switch (req.params.kind) {
    case 'invert':
      return runInvert(req);
    case 'sample':
      return runSample(req);
    case 'edit':
      return runEdit(req);
    case 'reconstruct':
      return runReconstruct(req);
    case 'interpolate':
      return runInterpolate(req);
  }
};

async function runInvert(req: RunRequest): Promise<RunResult> {
  const { model, params } = req;
  const prompt = params.prompt ?? '';
  // A sample job's kept pair retraces that job's trajectory back to its starting noise, exactly only in the
  // same field: its prompt, guidance and negative prompt must be this run's too (spec §5).
  const input = req.inputs[0];
  const start =
    input?.type === 'noise'
      ? { state: keptPair(req, 0, { ...runMeta(model, params), prompt }).state }
      : { image: imageInput(req, 0) };
  const result = await invert(model, { ...options(req), ...start, prompt });
  return {
    images: [],
    noise: artifact(model, params, result.state, prompt, 0),
    settings: { ...settings(params), ...(input?.type === 'noise' && { fromNoise: input.jobId }) },
    metrics: {},
  };
}

async function runSample(req: RunRequest): Promise<RunResult> {
  const { model, params } = req;
  const prompt = params.prompt ?? '';
  const noise = req.inputs[0] ? noiseInput(req, 0) : undefined;
  if (!noise && params.seed === undefined) {
    throw new WorkerError('invalid_job', 'a sample job needs a noise input or a seed');
  }
  const start = noise ? { state: noise.state } : { seed: params.seed };
  const result = await sample(model, { ...options(req), prompt, ...start });
  return {
    images: [result.image],
    // The final pair (x_1, x_0): inverting this image from it gives back the starting noise exactly.
    noise: artifact(model, params, result.state, prompt, 0),
    settings: { ...settings(params), ...(noise ? { fromNoise: req.inputs[0] } : { seed: params.seed }) },
    metrics: {},
  };
}

async function runEdit(req: RunRequest): Promise<RunResult> {
  const { model, params } = req;
  const sourcePrompt = params.sourcePrompt ?? '';
  const targetPrompt = params.targetPrompt ?? '';
  const restart = model.defaults.editRestart;
  const input = req.inputs[0];
  const strength = params.strength ?? model.defaults.editStrength;
  if (input?.type === 'noise' && input.jobKind !== 'sample') {
    // Reuse an earlier inversion: only the sampling half of the edit runs, from the stored state.
    const inverted = noiseInput(req, 0).state;
    const result = await sample(model, {
      ...options(req),
      prompt: targetPrompt,
      state: restartState(inverted, restart),
    });
    return {
      images: [result.image],
      noise: input.artifact,
      settings: {
        ...settings(params),
        restart,
        freeze: input.artifact.meta.freezeIndex,
        fromNoise: input.jobId,
      },
      metrics: {},
    };
  }
  // An image, or a generated image's kept pair (x_1, x_0): the partial inversion of the latter starts on the
  // trajectory that made it, instead of from x_0 alone (research/demo-model.md §3c).
  const start: CleanStart =
    input?.type === 'noise'
      ? { state: keptPair(req, 0, gridMeta(model, params)).state }
      : { image: imageInput(req, 0) };
  const result = await edit(model, {
    ...options(req),
    ...start,
    sourcePrompt,
    targetPrompt,
    strength,
    restart,
  });
  return {
    images: [result.image],
    noise: artifact(model, params, result.inverted, sourcePrompt, result.freeze),
    settings: {
      ...settings(params),
      strength,
      freeze: result.freeze,
      restart,
      ...(input?.type === 'noise' ? { fromNoise: input.jobId } : {}),
    },
    metrics: {},
  };
}

async function runReconstruct(req: RunRequest): Promise<RunResult> {
  const { model, params } = req;
  const result = await reconstruct(model, {
    ...options(req),
    image: imageInput(req, 0),
    prompt: params.prompt,
  });
  return {
    images: [result.image],
    settings: settings(params),
    metrics: { latentMaxAbsError: result.latentMaxAbsError, pixelMse: result.pixelMse },
  };
}

async function runInterpolate(req: RunRequest): Promise<RunResult> {
  const { params } = req;
  const end = (n: number): InterpolationEnd =>
    req.inputs[n]?.type === 'noise' ? { state: noiseInput(req, n).state } : { image: imageInput(req, n) };
  const weights = params.weights ?? [0, 0.25, 0.5, 0.75, 1];
  const result = await interpolate(req.model, {
    ...options(req),
    from: end(0),
    to: end(1),
    weights,
    prompt: params.prompt,
  });
  return { images: result.images, settings: { ...settings(params), weights }, metrics: {} };
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

function artifact(
  model: DiffusionModel,
  params: JobParams,
  state: SamplerState,
  prompt: string,
  freezeIndex: number,
): NoiseArtifact {
  return { state, meta: { ...runMeta(model, params), prompt, freezeIndex } };
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

function imageInput(req: RunRequest, n: number): Tensor {
  const input: RunInput | undefined = req.inputs[n];
  if (input?.type !== 'image') throw new WorkerError('invalid_job', `input ${n} must be an image`);
  return input.pixels;
}

/**
 * A sample job's kept pair (x_1, x_0), checked against this run's `expected` settings: the grid always, and the
 * field it was sampled in where the run must retrace it exactly.
 */
function keptPair(req: RunRequest, n: number, expected: NoiseExpectation): NoiseArtifact {
  const input = req.inputs[n];
  if (input?.type !== 'noise' || input.jobKind !== 'sample') {
    throw new WorkerError('invalid_job', `input ${n} must be the noise of a sample job`);
  }
  checkCompatible(input.artifact.meta, expected);
  return input.artifact;
}

/**
 * A noise input, checked against this run. The prompt may differ (that is what an edit is); guidance and
 * the negative prompt may too, though only the same ones reproduce the inverted image exactly.
 */
function noiseInput(req: RunRequest, n: number): NoiseArtifact {
  const input = req.inputs[n];
  if (input?.type !== 'noise') throw new WorkerError('invalid_job', `input ${n} must be a noise artifact`);
  checkCompatible(input.artifact.meta, gridMeta(req.model, req.params));
  return input.artifact;
}

/** The settings a state only makes sense under: the model, the grid and the sampler. */
function gridMeta(model: DiffusionModel, params: JobParams): NoiseExpectation {
  const { guidance: _g, negativePrompt: _n, ...grid } = runMeta(model, params);
  return grid;
}
