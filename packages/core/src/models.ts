import { z } from 'zod';
import { JobPriceSchema } from './billing.ts';
import { IdSchema } from './jobs.ts';

/**
 * The model catalog: what the API must know about each model bundle to validate and default a request without
 * loading it (Lambdas have no onnxruntime). An entry is derived from the bundle's manifest (packages/models,
 * `catalogEntryOf`) and published beside the bundles; nothing here restates a model's numbers.
 */
export const ModelEntrySchema = z.strictObject({
  id: IdSchema,
  kind: z
    .enum(['pixel', 'sd'])
    .describe('Bundle kind: a pixel-space model (the demo) or a Stable Diffusion export.'),
  description: z.string().optional(),
  /** [height, width] in pixels of the images the model takes and makes. */
  imageSize: z.tuple([z.number().int().positive(), z.number().int().positive()]),
  vocabulary: z
    .array(z.string())
    .optional()
    .describe(
      'The words prompts are made of when the model knows only some (the demo model); absent: free text.',
    ),
  limits: z.strictObject({
    minSteps: z.number().int().min(2),
    maxSteps: z.number().int().min(2),
    maxGuidance: z.number().min(0),
  }),
  defaults: z.strictObject({
    steps: z.number().int().min(2),
    guidance: z.number().min(0),
    editStrength: z.number().gt(0).lte(1),
    editGuidance: z.number().min(0),
  }),
  /** Tenants allowed to use the model; absent: every tenant. */
  tenants: z.array(IdSchema).optional(),
});
export type ModelEntry = z.output<typeof ModelEntrySchema>;

/** GET /v1/models: each model with its limits and defaults, and the stage's price of it (billing.ts `priceOf`). */
export const ModelListSchema = z.strictObject({
  models: z.array(
    ModelEntrySchema.omit({ tenants: true }).extend({
      price: JobPriceSchema.describe(
        'What a job of this model is billed: per GPU second, and per succeeded job.',
      ),
    }),
  ),
});
export type ModelList = z.output<typeof ModelListSchema>;

/** The first setting of `params` outside the model's limits, or undefined when all are within them. */
export function limitViolation(
  entry: Pick<ModelEntry, 'limits'>,
  params: { steps: number; guidance: number },
): { field: 'steps' | 'guidance'; min: number; max: number } | undefined {
  const { minSteps, maxSteps, maxGuidance } = entry.limits;
  if (params.steps < minSteps || params.steps > maxSteps)
    return { field: 'steps', min: minSteps, max: maxSteps };
  if (params.guidance < 0 || params.guidance > maxGuidance)
    return { field: 'guidance', min: 0, max: maxGuidance };
  return undefined;
}

/**
 * A model bundle copied into a worker's cache is the folder `<cache>/<id>/`, and complete once this file is in it
 * (written last: what it is a copy of, object by object). The worker's fetch and a baked AMI's copy
 * (infra/workerAmi.ts) both write it, so a baked copy is one the worker accepts without downloading.
 */
export const BUNDLE_CACHE_MARKER = '.obelm-source.json';
