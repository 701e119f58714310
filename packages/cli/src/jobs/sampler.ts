import type { CreateJobRequest } from '@obelm/client';
import { usageError } from '../errors.ts';

/**
 * `--sampler` and its parameters (`--gamma`, `--p`) as the request's `sampler`. Which sampler takes which
 * parameter, and its range, are core's SamplerSchema's to say: the parameters are checked by parsing with it.
 */

type Sampler = NonNullable<CreateJobRequest['sampler']>;

const SAMPLERS = ['obelm', 'ddim', 'bdia', 'edict'] as const;

/** The sampler parameters as options: each sets the field of the same name of one sampler's settings. */
export const SAMPLER_PARAMETERS = ['gamma', 'p'] as const;
export type SamplerParameter = (typeof SAMPLER_PARAMETERS)[number];

/**
 * The request's sampler from `--sampler <name>` and the sampler parameters given (numbers); undefined for the
 * service default. A parameter of another sampler, or out of its range, is a usage error.
 */
export async function samplerOf(
  name: string | undefined,
  parameters: Partial<Record<SamplerParameter, number>>,
): Promise<Sampler | undefined> {
  if (name !== undefined && !(SAMPLERS as readonly string[]).includes(name)) {
    throw usageError(`--sampler takes one of ${SAMPLERS.join(', ')}, not '${name}'`);
  }
  const given = Object.keys(parameters) as SamplerParameter[];
  if (!given.length) return name === undefined ? undefined : ({ name } as Sampler);
  // Loaded only here: a job command without sampler parameters never needs the schemas.
  const { SamplerSchema } = await import('@obelm/core');
  for (const parameter of given) {
    const owner = SamplerSchema.options.find((s) => parameter in s.shape)?.shape.name.value;
    if (owner !== name) {
      throw usageError(`--${parameter} is a parameter of --sampler ${owner}${name ? `, not ${name}` : ''}`);
    }
  }
  const parsed = SamplerSchema.safeParse({ name, ...parameters });
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const parameter = String(issue.path[0]) as SamplerParameter;
    throw usageError(`--${parameter} ${parameters[parameter]}: ${issue.message.toLowerCase()}`);
  }
  return parsed.data;
}
