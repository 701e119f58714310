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
 *
 * A sample job's artifact is its kept pair (x_1, x_0): inverting from it retraces that job's trajectory exactly
 * only under the same prompt, guidance and negative prompt (spec §5), so those are inherited too. An invert
 * must match them; an edit may change them (its source prompt, guidance), at the cost of that exactness.
 */
export function resolveParams(
  req: CreateJobRequest,
  catalog: ModelCatalog,
  defaultModel: string,
  noise?: JobParams,
): JobParams {
  if (noise) assertCompatible(req, noise);
  // The sample job whose kept pair this job inverts from, if any.
  const kept = noise?.kind === 'sample' ? noise : undefined;
  if (kept && req.kind === 'invert') assertSameTrajectory(req, kept);
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
    req.guidance ??
    kept?.guidance ??
    (req.kind === 'edit' ? limits.defaultEditGuidance : limits.defaultGuidance);
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
    negativePrompt: req.negativePrompt ?? kept?.negativePrompt ?? '',
    sampler: req.sampler ?? noise?.sampler ?? { name: 'obelm' },
    outputFormat: req.output?.format ?? 'png',
  };
  switch (req.kind) {
    case 'invert':
      return { ...params, prompt: req.prompt ?? kept?.prompt ?? '' };
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
        sourcePrompt: req.sourcePrompt ?? kept?.prompt ?? '',
        targetPrompt: req.targetPrompt,
        // From the clean end (an image, a kept pair) the edit inverts as far as asked; an artifact at the
        // noisy end was already inverted to its strength.
        strength: req.strength ?? (noise && !kept ? noiseStrength(noise) : limits.defaultStrength),
      };
    case 'interpolate':
      return { ...params, prompt: req.prompt ?? '', weights: req.weights };
  }
}

/** The strength an artifact was inverted to: an edit's own, or 1 for a full inversion (invert job). */
const noiseStrength = (noise: JobParams): number => noise.strength ?? 1;

const samplerKey = (s: SamplerParams): string =>
  JSON.stringify(Object.entries(s).sort(([a], [b]) => a.localeCompare(b)));

const mismatch = (field: string, requested: unknown, artifact: unknown) =>
  conflict(
    'incompatible_noise',
    `The noise artifact was made with ${field} ${JSON.stringify(artifact)}, the request asks for ${JSON.stringify(requested)}`,
    { field, noise: artifact, request: requested },
  );

/** Every explicit setting must match the noise artifact's (409 `incompatible_noise` names the first field). */
export function assertCompatible(
  req: Pick<CreateJobRequest, 'model' | 'steps' | 'sampler'> & { strength?: number | undefined },
  noise: JobParams,
): void {
  if (req.model !== undefined && req.model !== noise.model) throw mismatch('model', req.model, noise.model);
  if (req.steps !== undefined && req.steps !== noise.steps) throw mismatch('steps', req.steps, noise.steps);
  if (req.sampler !== undefined && samplerKey(req.sampler) !== samplerKey(noise.sampler)) {
    throw mismatch('sampler', req.sampler, noise.sampler);
  }
  // An edit from an artifact at the noisy end re-samples what that artifact inverted: its strength is fixed by
  // it. A sample job's kept pair sits at the clean end, so an edit from it picks its own strength.
  if (noise.kind !== 'sample' && req.strength !== undefined && req.strength !== noiseStrength(noise)) {
    throw mismatch('strength', req.strength, noiseStrength(noise));
  }
}

/** An exact inversion of a sample job's kept pair runs its trajectory backwards: same field, same eps. */
function assertSameTrajectory(
  req: Pick<CreateJobRequest, 'guidance' | 'negativePrompt'> & { prompt?: string | undefined },
  sampled: JobParams,
): void {
  if (req.prompt !== undefined && req.prompt !== (sampled.prompt ?? '')) {
    throw mismatch('prompt', req.prompt, sampled.prompt ?? '');
  }
  if (req.guidance !== undefined && req.guidance !== sampled.guidance) {
    throw mismatch('guidance', req.guidance, sampled.guidance);
  }
  if (req.negativePrompt !== undefined && req.negativePrompt !== sampled.negativePrompt) {
    throw mismatch('negativePrompt', req.negativePrompt, sampled.negativePrompt);
  }
}
