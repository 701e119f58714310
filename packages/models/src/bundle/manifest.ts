/**
 * A model bundle is a folder with `obelm.json` (this manifest) next to its model files. The manifest says
 * what kind of model it is, its shapes, its training schedule and the defaults chosen for it.
 */
import type { ModelDefaults, ScheduleConfig } from '@obelm/engine';
import { ModelError } from '../runtime/errors.ts';
import { PREDICTION_TYPES, type PredictionType } from './prediction.ts';

export const MANIFEST_FILE = 'obelm.json';

export type BundleKind = 'pixel' | 'sd';

/**
 * The step counts a job on this model may ask for. The guidance cap is `defaults.maxGuidance`. Optional: a
 * manifest without it allows 2 to `schedule.trainTimesteps` steps (catalogEntry.ts).
 */
export interface StepLimits {
  readonly minSteps: number;
  readonly maxSteps: number;
}

/** How a pixel bundle turns prompts into `encoder_hidden_states`. */
export type PixelConditioning = 'demo-labels' | 'none';

export interface BundleManifest {
  readonly format: 1;
  readonly id: string;
  readonly kind: BundleKind;
  readonly description?: string;
  /** [height, width] in pixels. */
  readonly imageSize: readonly [number, number];
  /** Latent shape for a batch of one, e.g. [1, 3, 32, 32] (pixel) or [1, 4, 64, 64] (SD). */
  readonly latentShape: readonly number[];
  readonly schedule: ScheduleConfig;
  /** What the model predicts (diffusers' prediction_type); default 'epsilon'. */
  readonly prediction?: PredictionType;
  readonly defaults: ModelDefaults;
  readonly limits?: StepLimits;
  /** Role -> file name inside the folder, e.g. { unet: 'unet.onnx' }. */
  readonly files: Readonly<Record<string, string>>;
  /** Optional file name -> sha256 (hex), checked on load. */
  readonly sha256?: Readonly<Record<string, string>>;
  /** Pixel bundles: how prompts are encoded. */
  readonly conditioning?: PixelConditioning;
  /** Kind-specific settings (e.g. the demo's image set parameters, an SD VAE scaling factor). */
  readonly options?: Readonly<Record<string, unknown>>;
}

/** Validates parsed JSON as a manifest; every problem is a `bundle_invalid_manifest` error naming the field. */
export function parseManifest(json: unknown, where: string): BundleManifest {
  const fail = (field: string, expected: string): never => {
    throw new ModelError('bundle_invalid_manifest', `${where}: '${field}' must be ${expected}`);
  };
  const m = record(json) ?? fail('(root)', 'an object');
  if (m.format !== 1) fail('format', '1');
  if (typeof m.id !== 'string' || !/^[a-z0-9][a-z0-9._-]*$/.test(m.id)) fail('id', 'a lower-case slug');
  if (m.kind !== 'pixel' && m.kind !== 'sd') fail('kind', "'pixel' or 'sd'");
  if (!positiveInts(m.imageSize, 2)) fail('imageSize', '[height, width] of positive integers');
  if (!positiveInts(m.latentShape) || (m.latentShape as number[])[0] !== 1) {
    fail('latentShape', 'positive integers starting with a batch of 1');
  }
  const schedule = record(m.schedule) ?? fail('schedule', 'an object');
  if (!['scaled_linear', 'linear'].includes(schedule.betaSchedule as string)) {
    fail('schedule.betaSchedule', "'scaled_linear' or 'linear'");
  }
  for (const key of ['betaStart', 'betaEnd', 'stepsOffset'] as const) {
    if (typeof schedule[key] !== 'number') fail(`schedule.${key}`, 'a number');
  }
  if (!Number.isInteger(schedule.trainTimesteps)) fail('schedule.trainTimesteps', 'an integer');
  if (!['linspace', 'leading', 'trailing'].includes(schedule.spacing as string)) {
    fail('schedule.spacing', "'linspace', 'leading' or 'trailing'");
  }
  if (schedule.finalAbar !== 'one' && schedule.finalAbar !== 'first')
    fail('schedule.finalAbar', "'one' or 'first'");
  if (m.prediction !== undefined && !PREDICTION_TYPES.includes(m.prediction as PredictionType)) {
    fail('prediction', `one of ${PREDICTION_TYPES.map((p) => `'${p}'`).join(', ')}`);
  }
  const defaults = record(m.defaults) ?? fail('defaults', 'an object');
  for (const key of ['steps', 'guidance', 'maxGuidance', 'editStrength', 'editGuidance'] as const) {
    if (typeof defaults[key] !== 'number') fail(`defaults.${key}`, 'a number');
  }
  if (defaults.editRestart !== 'pair' && defaults.editRestart !== 'single') {
    fail('defaults.editRestart', "'pair' or 'single'");
  }
  if (m.limits !== undefined) {
    const limits = record(m.limits) ?? fail('limits', 'an object');
    const { minSteps, maxSteps } = limits;
    if (!Number.isInteger(minSteps) || (minSteps as number) < 2) fail('limits.minSteps', 'an integer >= 2');
    // A grid of N steps needs N distinct training timesteps.
    const top = schedule.trainTimesteps as number;
    if (
      !Number.isInteger(maxSteps) ||
      (maxSteps as number) < (minSteps as number) ||
      (maxSteps as number) > top
    ) {
      fail('limits.maxSteps', 'an integer from limits.minSteps to schedule.trainTimesteps');
    }
  }
  const files = record(m.files) ?? fail('files', 'an object of file names');
  for (const [role, name] of Object.entries(files)) {
    if (typeof name !== 'string' || name.includes('/') || name.includes('\\') || name.startsWith('.')) {
      fail(`files.${role}`, 'a plain file name inside the bundle folder');
    }
  }
  if (m.sha256 !== undefined && !record(m.sha256)) fail('sha256', 'an object');
  if (m.conditioning !== undefined && m.conditioning !== 'demo-labels' && m.conditioning !== 'none') {
    fail('conditioning', "'demo-labels' or 'none'");
  }
  if (m.options !== undefined && !record(m.options)) fail('options', 'an object');
  return m as unknown as BundleManifest;
}

function record(v: unknown): Record<string, unknown> | undefined {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
    ? (v as Record<string, unknown>)
    : undefined;
}

function positiveInts(v: unknown, length?: number): boolean {
  return (
    Array.isArray(v) &&
    v.length > 0 &&
    (length === undefined || v.length === length) &&
    v.every((d) => Number.isInteger(d) && d > 0)
  );
}
