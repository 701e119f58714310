/**
 * A bundle's entry in the API's model catalog, derived from its manifest alone: the manifest is the one home of
 * a model's limits and defaults, and the catalog (published beside the bundles) only copies them.
 */
import { limitViolation, type ModelEntry, ModelEntrySchema } from '@obelm/core';
import { DEMO_VOCABULARY } from '../demo/dataset.ts';
import { ModelError } from '../runtime/errors.ts';
import type { BundleManifest } from './manifest.ts';

/** The fewest steps any sampler takes (O-BELM's first step is its DDIM start). */
const MIN_STEPS = 2;

export interface CatalogEntryOptions {
  /** The id jobs name the model by (its `models/<id>/` folder, or 'demo'); default: the manifest's id. */
  readonly id?: string;
  /** Tenants allowed to use the model; default: every tenant. */
  readonly tenants?: readonly string[];
}

/**
 * The catalog entry of a bundle. Step limits come from the manifest's `limits`, else 2 to its schedule's
 * training timesteps; the guidance cap is `defaults.maxGuidance`; the prompt vocabulary is its conditioning's
 * (the demo labels' words; none for free text). A manifest whose own defaults break its limits, or an id the API
 * cannot take, is a `bundle_invalid_manifest` error.
 */
export function catalogEntryOf(
  manifest: Pick<
    BundleManifest,
    'id' | 'kind' | 'description' | 'imageSize' | 'schedule' | 'defaults' | 'limits' | 'conditioning'
  >,
  options: CatalogEntryOptions = {},
): ModelEntry {
  const { defaults } = manifest;
  const { minSteps, maxSteps } = manifest.limits ?? {
    minSteps: MIN_STEPS,
    maxSteps: manifest.schedule.trainTimesteps,
  };
  const parsed = ModelEntrySchema.safeParse({
    id: options.id ?? manifest.id,
    kind: manifest.kind,
    ...(manifest.description === undefined ? {} : { description: manifest.description }),
    imageSize: [...manifest.imageSize],
    // A demo-labels bundle's prompts pick images by their label words (demo/prompt.ts): those are all it knows.
    ...(manifest.conditioning === 'demo-labels' ? { vocabulary: [...DEMO_VOCABULARY] } : {}),
    limits: { minSteps, maxSteps, maxGuidance: defaults.maxGuidance },
    defaults: {
      steps: defaults.steps,
      guidance: defaults.guidance,
      editStrength: defaults.editStrength,
      editGuidance: defaults.editGuidance,
    },
    ...(options.tenants === undefined ? {} : { tenants: [...options.tenants] }),
  });
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new ModelError('bundle_invalid_manifest', `${manifest.id}: not a valid catalog entry (${issues})`);
  }
  const entry = parsed.data;
  for (const guidance of [defaults.guidance, defaults.editGuidance]) {
    const violation = limitViolation(entry, { steps: defaults.steps, guidance });
    if (violation) {
      throw new ModelError(
        'bundle_invalid_manifest',
        `${manifest.id}: default ${violation.field} is outside its limits [${violation.min}, ${violation.max}]`,
      );
    }
  }
  return entry;
}
