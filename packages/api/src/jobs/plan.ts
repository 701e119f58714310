import {
  badRequest,
  type CreateJobRequest,
  type ImageRef,
  type JobItem,
  type JobKind,
  type JobParams,
  type NoiseRef,
  s3Keys,
} from '@obelm/core';
import type { Deps } from '../deps.ts';
import { loadNoiseJob, noiseInput, type ResolvedInput, resolveImage } from './inputs.ts';
import { assertCompatible, resolveParams } from './resolve.ts';

/** A checked request: resolved parameters and inputs, nothing written yet. */
export interface JobPlan {
  params: JobParams;
  inputs: ResolvedInput[];
}

/**
 * Checks everything a request refers to (uploads, inline images, noise jobs) and resolves its parameters.
 * Runs before anything is written, so a bad request leaves no trace.
 */
export async function planJob(
  deps: Deps,
  tenant: string,
  jobId: string,
  req: CreateJobRequest,
): Promise<JobPlan> {
  const defaultModel = deps.config.OBELM_DEFAULT_MODEL;
  const image = (ref: ImageRef, n: number, field: string) =>
    resolveImage(deps, tenant, ref, s3Keys.jobInput(tenant, jobId, n), field);
  // Sampling starts from an artifact at the noisy end; interpolation slerps full inversions only. A sample
  // job's kept pair (x_1, x_0) sits at the clean end: inverting starts from it, and so may an edit.
  const noisyEnd = ['invert', 'edit'] as const;
  /** A job whose input is an image, or the noise artifact of an earlier job of one of `kinds`. */
  const fromImageOrNoise = async (
    req: CreateJobRequest,
    start: { noise: NoiseRef } | { image: ImageRef },
    kinds: readonly JobKind[],
  ): Promise<JobPlan> => {
    if ('image' in start) {
      return {
        params: resolveParams(req, deps.catalog, defaultModel),
        inputs: [await image(start.image, 0, 'image')],
      };
    }
    const noise = await loadNoiseJob(deps, tenant, start.noise, 'noise', kinds);
    return {
      params: resolveParams(req, deps.catalog, defaultModel, noise.params),
      inputs: [{ input: noiseInput(noise) }],
    };
  };

  switch (req.kind) {
    case 'invert':
      return fromImageOrNoise(req, startOf(req, 'An invert'), ['sample']);
    case 'reconstruct':
      return {
        params: resolveParams(req, deps.catalog, defaultModel),
        inputs: [await image(req.image, 0, 'image')],
      };
    case 'sample': {
      const noise = req.noise ? await loadNoiseJob(deps, tenant, req.noise, 'noise', noisyEnd) : undefined;
      return {
        params: resolveParams(req, deps.catalog, defaultModel, noise?.params),
        inputs: noise ? [{ input: noiseInput(noise) }] : [],
      };
    }
    case 'edit':
      // An edit starts from a noise artifact when given (many edits per inversion, or a generated image
      // inverted from its kept pair), else inverts the image.
      return fromImageOrNoise(req, startOf(req, 'An edit'), [...noisyEnd, 'sample']);
    case 'interpolate': {
      const noiseJobs: JobItem[] = [];
      const inputs: ResolvedInput[] = [];
      for (const [n, ref] of req.images.entries()) {
        const field = `images.${n}`;
        if ('jobId' in ref) {
          const job = await loadNoiseJob(deps, tenant, ref, field, ['invert']);
          noiseJobs.push(job);
          inputs.push({ input: noiseInput(job) });
        } else {
          inputs.push(await image(ref, n, field));
        }
      }
      const [first, ...rest] = noiseJobs;
      const params = resolveParams(req, deps.catalog, defaultModel, first?.params);
      // Slerp between two noises only makes sense on one grid: every artifact must agree with the resolved one.
      for (const job of rest) assertCompatible(params, job.params);
      return { params, inputs };
    }
  }
}

/** Invert and edit start from exactly one of an image and a noise artifact. */
function startOf(
  req: { image?: ImageRef | undefined; noise?: NoiseRef | undefined },
  what: string,
): { noise: NoiseRef } | { image: ImageRef } {
  if (req.noise && req.image) {
    throw badRequest('conflicting_inputs', `${what} takes \`image\` or \`noise\`, not both`, {
      fields: ['image', 'noise'],
    });
  }
  if (req.noise) return { noise: req.noise };
  if (req.image) return { image: req.image };
  throw badRequest('missing_image', `${what} needs \`image\` or \`noise\``, { field: 'image' });
}
