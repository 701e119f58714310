import type { CreateJobRequest } from '@obelm/client';
import { API_OPTIONS } from '../api.ts';
import { type Values, integerOption as wholeNumber } from '../command.ts';
import { usageError } from '../errors.ts';
import { SAMPLER_PARAMETERS, type SamplerParameter, samplerOf } from './sampler.ts';

/**
 * The options the job commands share and how they become request fields. Only the shape of a value is checked
 * here (a number is a number); whether it is in range for the model is the API's to say. Sampler parameters
 * are the exception: their ranges are the same for every model, so sampler.ts checks them against core's schema.
 */

/** Options of every job command: the model and sampler settings, output, --json and the API. */
export const JOB_OPTIONS = {
  model: { type: 'string' },
  sampler: { type: 'string' },
  gamma: { type: 'string' },
  p: { type: 'string' },
  steps: { type: 'string' },
  guidance: { type: 'string' },
  negative: { type: 'string' },
  output: { type: 'string', short: 'o' },
  json: { type: 'boolean' },
  ...API_OPTIONS,
} as const;

/** Where a job command's synopsis names the options every job command takes (listed once: JOB_OPTIONS_HELP). */
export const JOB_SYNOPSIS = '[job options]';

export const JOB_OPTIONS_HELP =
  'job options: --model <id>, --sampler obelm|ddim|bdia|edict, --gamma <g> (bdia), --p <p> (edict), --steps <n>,\n' +
  '  --guidance <g>, --negative <text> (negative prompt), --json, --key <api key>, --url <api url>';

/** Fields every job kind takes, from the common options. */
type Common = Pick<CreateJobRequest, 'model' | 'steps' | 'guidance' | 'sampler' | 'negativePrompt'>;

const text = (values: Values, name: string): string | undefined =>
  typeof values[name] === 'string' ? (values[name] as string) : undefined;

/** `--<name>` as a finite number, or a usage error; undefined when not given. */
export function numberOption(values: Values, name: string): number | undefined {
  const value = text(values, name);
  if (value === undefined) return undefined;
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n))
    throw usageError(`--${name} takes a number, not '${value}'`);
  return n;
}

/** `--<name>` as a whole number, or a usage error; undefined when not given. */
export function integerOption(values: Values, name: string): number | undefined {
  const value = text(values, name);
  return value === undefined ? undefined : wholeNumber(name, value);
}

/** `--<name>` as text; undefined when not given. */
export const stringOption = text;

/** The model, sampler, steps, guidance and negative prompt the options give (only those given). */
export async function commonFields(values: Values): Promise<Common> {
  const fields: Common = {};
  const model = text(values, 'model');
  if (model !== undefined) fields.model = model;
  const parameters: Partial<Record<SamplerParameter, number>> = {};
  for (const parameter of SAMPLER_PARAMETERS) {
    const value = numberOption(values, parameter);
    if (value !== undefined) parameters[parameter] = value;
  }
  const sampler = await samplerOf(text(values, 'sampler'), parameters);
  if (sampler !== undefined) fields.sampler = sampler;
  const negativePrompt = text(values, 'negative');
  if (negativePrompt !== undefined) fields.negativePrompt = negativePrompt;
  const steps = integerOption(values, 'steps');
  if (steps !== undefined) fields.steps = steps;
  const guidance = numberOption(values, 'guidance');
  if (guidance !== undefined) fields.guidance = guidance;
  return fields;
}
