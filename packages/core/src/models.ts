/**
 * What the API must know about each model bundle to validate and default a request without loading it
 * (Lambdas have no onnxruntime). The worker's bundle manifest carries the same numbers.
 */
export interface ModelLimits {
  id: string;
  defaultSteps: number;
  minSteps: number;
  maxSteps: number;
  defaultGuidance: number;
  maxGuidance: number;
  /** Default edit strength (fraction of steps re-generated). */
  defaultStrength: number;
  defaultEditGuidance: number;
}

/** Built-in demo bundle: numbers from research/demo-model.md §4. */
export const DEMO_MODEL: ModelLimits = {
  id: 'demo',
  defaultSteps: 20,
  minSteps: 2,
  maxSteps: 200,
  defaultGuidance: 1,
  maxGuidance: 3,
  defaultStrength: 0.5,
  defaultEditGuidance: 1,
};

/** Stable Diffusion 1.5 / 2.x exports (paper editing settings: g = 3, 50 steps for cost). */
export const SD_MODEL_DEFAULTS: Omit<ModelLimits, 'id'> = {
  defaultSteps: 50,
  minSteps: 2,
  maxSteps: 1000,
  defaultGuidance: 3,
  maxGuidance: 20,
  defaultStrength: 0.8,
  defaultEditGuidance: 3,
};

export type ModelCatalog = ReadonlyMap<string, ModelLimits>;

/** The catalog: the demo model plus SD-layout bundles named in OBELM_MODELS (comma-separated ids). */
export function modelCatalog(sdIds: string | undefined = process.env['OBELM_MODELS']): ModelCatalog {
  const entries: ModelLimits[] = [DEMO_MODEL];
  for (const id of (sdIds ?? '').split(',').map((s) => s.trim())) {
    if (id && id !== 'demo') entries.push({ id, ...SD_MODEL_DEFAULTS });
  }
  return new Map(entries.map((m) => [m.id, m]));
}
