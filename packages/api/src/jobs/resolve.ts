import { randomInt } from 'node:crypto';
import {
  badRequest,
  type CreateJobRequest,
  conflict,
  type JobParams,
  type ModelCatalog,
  type SamplerParams,
} from '@obelm/core';

/**
 * Turns a validated request into fully resolved JobParams: every default filled in from the model catalog,
 * every model-specific range checked, so the worker never guesses.
 *
 * When the job starts from a noise artifact, the artifact fixes the model, the step count N and the sampler
 * (the state pair (x_N, x_{N-1}) only inverts exactly on the grid it was made on, spec §3): omitted
 * settings are inherited from it, and a setting that contradicts it is `incompatible_noise`.
 */
export function resolveParams(
  req: CreateJobRequest,
  catalog: ModelCatalog,
  defaultModel: string,
  noise?: JobParams,
): JobParams {
  if (noise) assertCompatible(req, noise);
  const model = req.model ?? noise?.model ?? defaultModel;
  const limits = catalog.get(model);
  if (!limits) {
    throw badRequest('unknown_model', `Unknown model '${model}'`, { allowed: [...catalog.keys()] });
  }

  const steps = req.steps ?? noise?.steps ?? limits.defaultSteps;
  if (steps < limits.minSteps || steps > limits.maxSteps) {
    throw badRequest(
      'steps_out_of_range',
      `steps must be between ${limits.minSteps} and ${limits.maxSteps} for model '${model}'`,
      { field: 'steps', min: limits.minSteps, max: limits.maxSteps },
    );
  }

  const guidance =
    req.guidance ?? (req.kind === 'edit' ? limits.defaultEditGuidance : limits.defaultGuidance);
  if (guidance > limits.maxGuidance) {
    throw badRequest(
      'guidance_out_of_range',
      `guidance must be between 0 and ${limits.maxGuidance} for model '${model}'`,
      { field: 'guidance', min: 0, max: limits.maxGuidance },
    );
  }

  const params: JobParams = {
    kind: req.kind,
    model,
    steps,
    guidance,
    negativePrompt: req.negativePrompt ?? '',
    sampler: req.sampler ?? noise?.sampler ?? { name: 'obelm' },
    outputFormat: req.output?.format ?? 'png',
  };
  switch (req.kind) {
    case 'invert':
    case 'reconstruct':
      return { ...params, prompt: req.prompt ?? '' };
    case 'sample':
      // A fresh sample without noise needs a seed to be reproducible: pick one and record it.
      return {
        ...params,
        prompt: req.prompt ?? '',
        ...(req.noise ? {} : { seed: req.seed ?? randomInt(2 ** 32) }),
      };
    case 'edit':
      return {
        ...params,
        sourcePrompt: req.sourcePrompt,
        targetPrompt: req.targetPrompt,
        strength: req.strength ?? (noise ? noiseStrength(noise) : limits.defaultStrength),
      };
    case 'interpolate':
      return { ...params, prompt: req.prompt ?? '', weights: req.weights };
  }
}

/** The strength an artifact was inverted to: an edit's own, or 1 for a full inversion (invert job). */
const noiseStrength = (noise: JobParams): number => noise.strength ?? 1;

const samplerKey = (s: SamplerParams): string =>
  JSON.stringify(Object.entries(s).sort(([a], [b]) => a.localeCompare(b)));

/** Every explicit setting must match the noise artifact's (409 `incompatible_noise` names the first field). */
export function assertCompatible(
  req: Pick<CreateJobRequest, 'model' | 'steps' | 'sampler'> & { strength?: number | undefined },
  noise: JobParams,
): void {
  const mismatch = (field: string, requested: unknown, artifact: unknown) =>
    conflict(
      'incompatible_noise',
      `The noise artifact was made with ${field} ${JSON.stringify(artifact)}, the request asks for ${JSON.stringify(requested)}`,
      { field, noise: artifact, request: requested },
    );
  if (req.model !== undefined && req.model !== noise.model) throw mismatch('model', req.model, noise.model);
  if (req.steps !== undefined && req.steps !== noise.steps) throw mismatch('steps', req.steps, noise.steps);
  if (req.sampler !== undefined && samplerKey(req.sampler) !== samplerKey(noise.sampler)) {
    throw mismatch('sampler', req.sampler, noise.sampler);
  }
  // An edit from an artifact re-samples what that artifact inverted: its strength is fixed by it.
  if (req.strength !== undefined && req.strength !== noiseStrength(noise)) {
    throw mismatch('strength', req.strength, noiseStrength(noise));
  }
}
