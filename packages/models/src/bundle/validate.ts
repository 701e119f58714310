/**
 * `validateBundle`: what `obelm admin models add` proves about a bundle folder before it installs it. Loading it
 * runs every load check (configs, graph signatures, random ops, a deterministic encoder); a short sample ->
 * invert round trip then shows the exactness the service promises holds for this model, in this runtime.
 */
import type { ModelEntry } from '@obelm/core';
import {
  gaussianNoise,
  invert,
  maxAbsDifference,
  numel,
  reconstruct,
  type SamplerState,
  sample,
  type Tensor,
} from '@obelm/engine';
import { ModelError } from '../runtime/errors.ts';
import { type CatalogEntryOptions, catalogEntryOf } from './catalogEntry.ts';
import { type LoadOptions, loadBundle } from './load.ts';
import type { BundleManifest } from './manifest.ts';
import type { LoadedModel } from './model.ts';

export interface ValidateOptions extends CatalogEntryOptions {
  /** Replaces the manifest's description in the catalog entry (an inferred one names the local folder). */
  readonly description?: string;
  /** Sampler steps of the round trips (default 6), kept within the model's step limits. */
  readonly steps?: number;
  /** The largest max-abs error a round trip may come back with (default 1e-8). */
  readonly tolerance?: number;
  /** How the bundle is loaded (default: cpu, one thread). */
  readonly runtime?: LoadOptions;
  /** Told each check as it passes (a real bundle takes minutes on a CPU). */
  readonly onCheck?: (check: string) => void;
}

export interface BundleValidation {
  readonly manifest: BundleManifest;
  /** The catalog entry to publish for it. */
  readonly entry: ModelEntry;
  /** max |x_N - invert(sample(x_N))| over the noise. */
  readonly roundTripError: number;
  /** max |x_0 - reconstruct(x_0)| over the latent of the sampled image; absent without a VAE encoder. */
  readonly imageRoundTripError?: number;
  /** What was checked, in words, in order. */
  readonly checks: readonly string[];
}

const DEFAULT_STEPS = 6;
const DEFAULT_TOLERANCE = 1e-8;
/** Any fixed seed: the round trip must hold for every noise. */
const SEED = 20240607;
/** The unconditional prompt: every tokenizer takes it, and the guided batch still runs both CFG rows. */
const PROMPT = '';

/**
 * Loads the bundle at `dir` (or the built-in 'demo') and checks it as an install would need it: the load checks,
 * a valid catalog entry, and round trips within `tolerance`: seeded noise sampled with `steps` O-BELM steps at the
 * model's default guidance and inverted from the kept pair must give the noise back, and (with a VAE encoder) the
 * sampled image reconstructed through encode -> invert -> sample must give its latent back. Anything that fails
 * throws a ModelError; the model is closed in every case.
 */
export async function validateBundle(dir: string, options: ValidateOptions = {}): Promise<BundleValidation> {
  const checks: string[] = [];
  const check = (text: string) => {
    checks.push(text);
    options.onCheck?.(text);
  };
  const tolerance = options.tolerance ?? DEFAULT_TOLERANCE;
  const model = await loadBundle(dir, { provider: 'cpu', threads: 1, ...options.runtime });
  try {
    const { manifest } = model;
    check(
      `loads, passing the load checks: ${manifest.kind} bundle, ${manifest.prediction ?? 'epsilon'} prediction, ` +
        `${model.imageSize.join('x')} px images, latents [${model.latentShape.join(', ')}], on ${model.provider}`,
    );
    const described =
      options.description === undefined ? manifest : { ...manifest, description: options.description };
    const entry = catalogEntryOf(described, { id: options.id, tenants: options.tenants });
    const { limits, defaults } = entry;
    check(
      `catalog entry ${entry.id}: steps ${limits.minSteps}-${limits.maxSteps} (default ${defaults.steps}), ` +
        `guidance up to ${limits.maxGuidance} (default ${defaults.guidance})`,
    );

    const steps = Math.min(Math.max(options.steps ?? DEFAULT_STEPS, limits.minSteps), limits.maxSteps);
    const run = { prompt: PROMPT, steps, guidance: model.defaults.guidance };
    const noise = gaussianNoise(SEED, numel(model.latentShape));
    const sampled = await sample(model, { ...run, seed: SEED });
    const inverted = await invert(model, { ...run, state: sampled.state });
    const roundTripError = maxAbsDifference(noiseOf(inverted.state), noise);
    const within = (error: number) => `max-abs error ${error.toExponential(2)} (<= ${tolerance})`;
    const trip = `${steps} O-BELM steps at guidance ${run.guidance}`;
    refuseAbove(roundTripError, tolerance, `${dir}: seeded noise sampled and inverted (${trip}) comes back`);
    check(`noise -> sample -> invert round trip, ${trip}: ${within(roundTripError)}`);

    const imageRoundTripError = await imageRoundTrip(model, sampled.image, run);
    if (imageRoundTripError === undefined) {
      check('no image round trip: the bundle has no VAE encoder (it can sample, not invert or edit images)');
    } else {
      refuseAbove(
        imageRoundTripError,
        tolerance,
        `${dir}: its sampled image reconstructed (${trip}) comes back`,
      );
      check(`image -> encode -> invert -> sample round trip, ${trip}: latent ${within(imageRoundTripError)}`);
    }
    return {
      manifest,
      entry,
      roundTripError,
      ...(imageRoundTripError === undefined ? {} : { imageRoundTripError }),
      checks,
    };
  } finally {
    await model.close();
  }
}

/**
 * Reconstructs `image` (invert, then sample from the inverted pair) and returns its latent's max-abs error, or
 * undefined when the model cannot encode (an SD export without `vae_encoder`: text-to-image only).
 */
async function imageRoundTrip(
  model: LoadedModel,
  image: Tensor,
  run: { prompt: string; steps: number; guidance: number },
): Promise<number | undefined> {
  try {
    await model.encode(image);
  } catch (error) {
    if (error instanceof ModelError && error.code === 'bundle_not_found') return undefined;
    throw error;
  }
  return (await reconstruct(model, { ...run, image })).latentMaxAbsError;
}

/** The noise end x_N of an inversion's end state (the upper of O-BELM's pair). */
function noiseOf(state: SamplerState): Float64Array {
  return state.kind === 'pair' ? state.upper : state.x;
}

/** A round trip off by more than `tolerance` (or not a number) is a refusal that says by how much. */
function refuseAbove(error: number, tolerance: number, what: string): void {
  if (error <= tolerance) return;
  throw new ModelError(
    'bundle_invalid_manifest',
    `${what} off by ${error} (max-abs), more than ${tolerance}: exact inversion does not hold for this model ` +
      '(most likely its outputs change from one call to the next for the same inputs)',
  );
}
