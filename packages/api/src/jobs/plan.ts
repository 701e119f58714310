import {
  badRequest,
  type CreateJobRequest,
  type ImageRef,
  type JobParams,
  type ModelEntry,
  type NoiseRef,
  s3Keys,
  type TenantLimits,
} from '@obelm/core';
import type { Deps } from '../deps.ts';
import { loadNoiseJob, noiseInput, type ResolvedInput, resolveImage } from './inputs.ts';
import { type ArtifactStart, assertFixed, assertPlanSteps, modelIdOf, resolveParams } from './resolve.ts';

/** A checked request: resolved parameters and inputs, nothing written yet. */
export interface JobPlan {
  params: JobParams;
  inputs: ResolvedInput[];
}

/** The limits of the caller's plan that a request is held to (core tenants.ts). */
export type PlanLimits = Pick<TenantLimits, 'maxSteps' | 'maxPixels'>;

/** One input as the request gives it, with the field it came from (for error messages). */
type InputRef = { field: string } & ({ image: ImageRef } | { noise: NoiseRef });

/**
 * Checks everything a request refers to (uploads, inline images, noise jobs) and resolves its parameters, within
 * the model's limits and the caller's plan. Runs before anything is written, so a bad request leaves no trace.
 * Which artifact can start which job, and what it fixes, is core's artifact rules; this only gathers the inputs
 * and applies them.
 */
export async function planJob(
  deps: Deps,
  tenant: string,
  jobId: string,
  req: CreateJobRequest,
  limits: PlanLimits,
): Promise<JobPlan> {
  const refs = inputRefs(req);
  // Noise artifacts and the model first (table reads), so a bad setting is refused before any image is read.
  const artifacts = new Map<number, ArtifactStart & { input: ResolvedInput }>();
  for (const [n, ref] of refs.entries()) {
    if (!('noise' in ref)) continue;
    const { source, rule } = await loadNoiseJob(deps, tenant, ref.noise, ref.field, req.kind);
    artifacts.set(n, { params: source.params, rule, input: { input: noiseInput(source) } });
  }
  const [first, ...rest] = artifacts.values();
  const model = await modelEntry(deps, tenant, modelIdOf(req, first, deps.config.OBELM_DEFAULT_MODEL));
  const params = resolveParams(req, model, first);
  assertPlanSteps(params, limits.maxSteps);
  // Two artifacts (interpolation) must share the grid the first one fixed.
  for (const other of rest) assertFixed(params, other);

  const inputs: ResolvedInput[] = [];
  for (const [n, ref] of refs.entries()) {
    inputs.push(
      'image' in ref
        ? await resolveImage(
            deps,
            tenant,
            ref.image,
            s3Keys.jobInput(tenant, jobId, n),
            ref.field,
            limits.maxPixels,
          )
        : artifacts.get(n)!.input,
    );
  }
  return { params, inputs };
}

/** The catalog entry of a model the tenant may use; 400 `unknown_model` listing the ones it may. */
export async function modelEntry(deps: Deps, tenant: string, id: string): Promise<ModelEntry> {
  const entry = await deps.catalog.get(id, tenant);
  if (entry) return entry;
  const allowed = (await deps.catalog.list(tenant)).map((m) => m.id);
  throw badRequest('unknown_model', `Unknown model '${id}'`, { field: 'model', allowed });
}

/** The inputs of each kind, in order: invert and edit take an image or a noise artifact, never both. */
function inputRefs(req: CreateJobRequest): InputRef[] {
  switch (req.kind) {
    case 'invert':
    case 'edit':
      return [imageOrNoise(req, `${req.kind === 'invert' ? 'An invert' : 'An edit'}`)];
    case 'reconstruct':
      return [{ field: 'image', image: req.image }];
    case 'sample':
      if (req.noise && req.seed !== undefined) {
        throw badRequest('conflicting_inputs', 'A sample takes `seed` or `noise`, not both', {
          fields: ['seed', 'noise'],
        });
      }
      return req.noise ? [{ field: 'noise', noise: req.noise }] : [];
    case 'interpolate':
      return req.images.map((ref, n) =>
        'jobId' in ref ? { field: `images.${n}`, noise: ref } : { field: `images.${n}`, image: ref },
      );
  }
}

function imageOrNoise(
  req: { image?: ImageRef | undefined; noise?: NoiseRef | undefined },
  what: string,
): InputRef {
  if (req.noise && req.image) {
    throw badRequest('conflicting_inputs', `${what} takes \`image\` or \`noise\`, not both`, {
      fields: ['image', 'noise'],
    });
  }
  if (req.noise) return { field: 'noise', noise: req.noise };
  if (req.image) return { field: 'image', image: req.image };
  throw badRequest('missing_image', `${what} needs \`image\` or \`noise\``, { field: 'image' });
}
