import { randomInt } from 'node:crypto';
import {
  type ArtifactRule,
  type ArtifactSetting,
  artifactStrength,
  badRequest,
  type CreateJobRequest,
  conflict,
  type JobParams,
  limitViolation,
  type ModelEntry,
} from '@obelm/core';
import { canonicalJson } from '../canonicalJson.ts';

/** The artifact a job starts from, with the rule (core artifacts.ts) that says how. */
export interface ArtifactStart {
  params: JobParams;
  rule: ArtifactRule;
}

/**
 * Turns a validated request into fully resolved JobParams of its kind: every default filled in from the model's
 * catalog entry, every model-specific range checked, so the worker never guesses.
 *
 * When the job starts from a noise artifact, its rule says which settings the artifact fixes (a different explicit
 * value is `incompatible_noise`) and which ones it implies when the request omits them.
 */
export function resolveParams(req: CreateJobRequest, model: ModelEntry, from?: ArtifactStart): JobParams {
  if (from) assertFixed(requestSettings(req), from);
  const inherited = <T>(setting: ArtifactSetting): T | undefined =>
    from?.rule.inherits.includes(setting)
      ? (artifactSetting(from.params, setting) as T | undefined)
      : undefined;

  const steps = req.steps ?? inherited<number>('steps') ?? model.defaults.steps;
  const guidance =
    req.guidance ??
    inherited<number>('guidance') ??
    (req.kind === 'edit' ? model.defaults.editGuidance : model.defaults.guidance);
  const outside = limitViolation(model, { steps, guidance });
  if (outside) {
    throw badRequest(
      `${outside.field}_out_of_range`,
      `${outside.field} must be between ${outside.min} and ${outside.max} for model '${model.id}'`,
      outside,
    );
  }

  const common = {
    model: model.id,
    steps,
    guidance,
    negativePrompt: req.negativePrompt ?? inherited<string>('negativePrompt') ?? '',
    sampler: req.sampler ?? inherited<JobParams['sampler']>('sampler') ?? { name: 'obelm' as const },
    outputFormat: req.output?.format ?? 'png',
  };
  switch (req.kind) {
    case 'invert':
      return { kind: 'invert', ...common, prompt: req.prompt ?? inherited<string>('prompt') ?? '' };
    case 'reconstruct':
      return { kind: 'reconstruct', ...common, prompt: req.prompt ?? '' };
    case 'sample':
      // A fresh sample needs a seed to be reproducible: pick one and record it. From noise, there is none.
      return {
        kind: 'sample',
        ...common,
        prompt: req.prompt ?? '',
        ...(from ? {} : { seed: req.seed ?? randomInt(2 ** 32) }),
      };
    case 'edit':
      return {
        kind: 'edit',
        ...common,
        sourcePrompt: req.sourcePrompt ?? inherited<string>('sourcePrompt') ?? '',
        targetPrompt: req.targetPrompt,
        strength: req.strength ?? inherited<number>('strength') ?? model.defaults.editStrength,
      };
    case 'interpolate':
      return { kind: 'interpolate', ...common, prompt: req.prompt ?? '', weights: req.weights };
  }
}

/**
 * The tenant's plan may allow fewer steps than the model (core tenants.ts `maxSteps`): 400 `steps_out_of_range`
 * with `details.limit: 'plan'`. Checked on the resolved steps, so an artifact's inherited steps count too.
 */
export function assertPlanSteps(params: Pick<JobParams, 'steps'>, maxSteps: number): void {
  if (params.steps <= maxSteps) return;
  throw badRequest('steps_out_of_range', `steps must be at most ${maxSteps} on this plan`, {
    field: 'steps',
    limit: 'plan',
    max: maxSteps,
    steps: params.steps,
  });
}

/** The model a request runs on: its own choice, else its artifact's, else the service default. */
export const modelIdOf = (
  req: CreateJobRequest,
  from: ArtifactStart | undefined,
  defaultModel: string,
): string => req.model ?? from?.params.model ?? defaultModel;

/** The settings a request gives explicitly, by the names artifact rules use. */
function requestSettings(req: CreateJobRequest): Partial<Record<ArtifactSetting, unknown>> {
  return {
    model: req.model,
    steps: req.steps,
    sampler: req.sampler,
    guidance: req.guidance,
    negativePrompt: req.negativePrompt,
    ...('prompt' in req ? { prompt: req.prompt } : {}),
    ...(req.kind === 'edit' ? { strength: req.strength, sourcePrompt: req.sourcePrompt } : {}),
  };
}

/** A setting's value in an artifact's job; an edit's source prompt is the prompt its artifact was made with. */
function artifactSetting(params: JobParams, setting: ArtifactSetting): unknown {
  switch (setting) {
    case 'strength':
      return artifactStrength(params);
    case 'prompt':
    case 'sourcePrompt':
      return 'prompt' in params ? params.prompt : params.sourcePrompt;
    default:
      return params[setting];
  }
}

/**
 * Every setting the artifact fixes must match where `settings` gives one (409 `incompatible_noise` names the
 * first). Also holds a second artifact (interpolation) to the params resolved from the first.
 */
export function assertFixed(settings: Partial<Record<ArtifactSetting, unknown>>, from: ArtifactStart): void {
  for (const setting of from.rule.fixes) {
    const requested = settings[setting];
    const fixed = artifactSetting(from.params, setting);
    if (requested !== undefined && !sameValue(requested, fixed)) {
      throw conflict(
        'incompatible_noise',
        `The noise artifact was made with ${setting} ${JSON.stringify(fixed)}, the request asks for ${JSON.stringify(requested)}`,
        { field: setting, noise: fixed, request: requested },
      );
    }
  }
}

/** Equality of setting values: sampler objects compare by their entries, whatever the key order. */
const sameValue = (a: unknown, b: unknown): boolean => canonicalJson(a) === canonicalJson(b);
