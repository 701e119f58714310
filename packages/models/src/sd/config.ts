import { basename, join } from 'node:path';
import { type ModelDefaults, type ScheduleConfig, SD_SCHEDULE } from '@obelm/engine';
import type { BundleManifest } from '../bundle/manifest.ts';
import { fileExists, readJsonIfPresent as readJson } from '../files.ts';
import { ModelError } from '../runtime/errors.ts';

/**
 * The SD-1.5 recipe of the BELM paper: the official scripts' DDIM schedule with linspace timesteps and a
 * final abar of 1 (docs/math.md §1), 50 steps (O-BELM inversion sensitivity 136 at N = 50 vs 553 at N = 20,
 * docs/math.md §10), guidance 3 and 20 % of the steps preserved as in the paper's editing setup (App. C.4,
 * docs/math.md §8). editRestart 'pair' is the official image_editing.py restart; the paper's SD editing
 * results use it. (The demo model's report prefers 'single', but that finding is about its stiff closed-form
 * eps, not a UNet.)
 */
export const sd15Schedule: ScheduleConfig = SD_SCHEDULE;

export const sd15Defaults: ModelDefaults = {
  steps: 50,
  guidance: 3,
  maxGuidance: 10,
  editStrength: 0.8,
  editGuidance: 3,
  editRestart: 'pair',
};

export const sdScalingFactor = 0.18215;

/** SD manifest option: the VAE latent scaling factor (SD 1.x/2.x: 0.18215; SDXL-style VAEs differ). */
export function scalingFactorOf(manifest: BundleManifest): number {
  const value = manifest.options?.['scalingFactor'];
  return typeof value === 'number' && Number.isFinite(value) && value > 0 ? value : sdScalingFactor;
}

/** True when `dir` looks like a diffusers/optimum ONNX export (a `unet/model.onnx`). */
export async function isSdExport(dir: string): Promise<boolean> {
  return fileExists(join(dir, 'unet', 'model.onnx'));
}

/**
 * The manifest of an optimum/diffusers export that ships no obelm.json: latent size and channels from
 * `unet/config.json` (sample_size, in_channels), the VAE factor 2^(blocks - 1) and scaling factor from
 * `vae_decoder/config.json`, betas from `scheduler/scheduler_config.json`, SD-1.5 values for whatever is absent.
 * The UNet's fixed input dims, if any, are checked against this when the bundle opens.
 */
export async function inferSdManifest(dir: string): Promise<BundleManifest> {
  const unetConfig = await readJsonIfPresent(join(dir, 'unet', 'config.json'));
  const vaeConfig =
    (await readJsonIfPresent(join(dir, 'vae_decoder', 'config.json'))) ??
    (await readJsonIfPresent(join(dir, 'vae', 'config.json')));
  const scheduler = await readJsonIfPresent(join(dir, 'scheduler', 'scheduler_config.json'));

  const prediction = scheduler?.['prediction_type'];
  if (prediction !== undefined && prediction !== 'epsilon') {
    throw new ModelError(
      'bundle_invalid_manifest',
      `${dir}: prediction_type '${String(prediction)}' is not supported; the samplers need an epsilon model`,
    );
  }
  const latentSize = numberIn(unetConfig, 'sample_size') ?? 64;
  const channels = numberIn(unetConfig, 'in_channels') ?? 4;
  const blocks = vaeConfig?.['block_out_channels'];
  const vaeFactor = Array.isArray(blocks) && blocks.length > 0 ? 2 ** (blocks.length - 1) : 8;
  const slug =
    basename(dir)
      .toLowerCase()
      .replace(/[^a-z0-9._-]+/g, '-')
      .replace(/^[^a-z0-9]+/, '') || 'sd';

  return {
    format: 1,
    id: slug,
    kind: 'sd',
    description: `Stable Diffusion ONNX export at ${dir} (no obelm.json: inferred)`,
    imageSize: [latentSize * vaeFactor, latentSize * vaeFactor],
    latentShape: [1, channels, latentSize, latentSize],
    schedule: {
      ...sd15Schedule,
      betaSchedule: scheduler?.['beta_schedule'] === 'linear' ? 'linear' : 'scaled_linear',
      betaStart: numberIn(scheduler, 'beta_start') ?? sd15Schedule.betaStart,
      betaEnd: numberIn(scheduler, 'beta_end') ?? sd15Schedule.betaEnd,
      trainTimesteps: numberIn(scheduler, 'num_train_timesteps') ?? sd15Schedule.trainTimesteps,
    },
    defaults: sd15Defaults,
    files: {},
    options: { scalingFactor: numberIn(vaeConfig, 'scaling_factor') ?? sdScalingFactor },
  };
}

function numberIn(json: Record<string, unknown> | undefined, key: string): number | undefined {
  const value = json?.[key];
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

const readJsonIfPresent = (path: string) =>
  readJson(path, (message, cause) => new ModelError('bundle_invalid_manifest', message, { cause }));
