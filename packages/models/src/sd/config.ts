import { readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { buildGrid, type ModelDefaults, type ScheduleConfig, SD_SCHEDULE } from '@obelm/engine';
import type { BundleManifest, StepLimits } from '../bundle/manifest.ts';
import type { PredictionType } from '../bundle/prediction.ts';
import { fileExists } from '../files.ts';
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

/** How `inferSdManifest` treats one key of a diffusers `scheduler_config.json`. */
export interface SchedulerKeyRule {
  /**
   * 'read': the key sets part of the manifest (`sets`); 'guard': only values that leave the training schedule
   * and the grid as obelm's samplers run them pass, any other is refused; 'ignored': the key configures a
   * diffusers sampler's own update and changes neither the training schedule nor obelm's grid.
   */
  readonly use: 'read' | 'guard' | 'ignored';
  /** The manifest field a 'read' key sets. */
  readonly sets?: string;
  /** The values accepted ('read' and 'guard' keys), in words. */
  readonly accepts?: string;
  /** Whether a present value is accepted ('read' and 'guard' keys). */
  readonly valid?: (value: unknown) => boolean;
  /** Why: what the key does in diffusers, and why obelm reads, refuses or ignores it. */
  readonly why: string;
}

const oneOf =
  (...values: unknown[]) =>
  (value: unknown) =>
    values.includes(value);
const isProbability = (value: unknown) => typeof value === 'number' && value > 0 && value < 1;
const isIntegerFrom = (min: number) => (value: unknown) =>
  Number.isInteger(value) && (value as number) >= min;
/** Off: false, or null (which diffusers treats as false). */
const isOff = oneOf(false, null);

/**
 * Every `scheduler_config.json` key obelm knows, in one table (the docs list it). Any key not in it is refused:
 * obelm cannot know whether an unknown setting changes the schedule, and an obelm.json beside the export
 * states the schedule explicitly instead. The keys come from diffusers' DDIM, PNDM, DDPM, LMS, Euler,
 * Euler-ancestral, Heun, KDPM2, DPM-Solver (multistep, singlestep, SDE), DEIS and UniPC schedulers.
 */
export const SCHEDULER_CONFIG_RULES = {
  prediction_type: {
    use: 'read',
    sets: 'prediction',
    accepts: "'epsilon' or 'v_prediction'",
    valid: oneOf('epsilon', 'v_prediction'),
    why:
      'what the UNet predicts: obelm samples with the noise eps, which an epsilon model outputs and a ' +
      "v_prediction model's output converts to exactly (bundle/prediction.ts); 'sample' (x_0 prediction) " +
      'and other values are not supported',
  },
  beta_schedule: {
    use: 'read',
    sets: 'schedule.betaSchedule',
    accepts: "'scaled_linear' or 'linear'",
    valid: oneOf('scaled_linear', 'linear'),
    why: 'the training betas; the engine builds these two (squaredcos_cap_v2, sigmoid and exp are not implemented)',
  },
  beta_start: {
    use: 'read',
    sets: 'schedule.betaStart',
    accepts: 'a number in (0, 1), at most beta_end',
    valid: isProbability,
    why: 'the first training beta',
  },
  beta_end: {
    use: 'read',
    sets: 'schedule.betaEnd',
    accepts: 'a number in (0, 1), at least beta_start',
    valid: isProbability,
    why: 'the last training beta',
  },
  num_train_timesteps: {
    use: 'read',
    sets: 'schedule.trainTimesteps',
    accepts: 'an integer >= 2',
    valid: isIntegerFrom(2),
    why: 'the number of training timesteps T',
  },
  timestep_spacing: {
    use: 'read',
    sets: 'schedule.spacing',
    accepts: "'linspace', 'leading' or 'trailing'",
    valid: oneOf('linspace', 'leading', 'trailing'),
    why: 'how the N sampling timesteps are picked among the T training ones (docs/math.md §1.2)',
  },
  steps_offset: {
    use: 'read',
    sets: 'schedule.stepsOffset',
    accepts: 'an integer >= 0, below num_train_timesteps',
    valid: isIntegerFrom(0),
    why: "added to 'leading' timesteps (diffusers and obelm ignore it for linspace and trailing)",
  },
  set_alpha_to_one: {
    use: 'read',
    sets: "schedule.finalAbar ('one' when true, 'first' when false)",
    accepts: 'true or false',
    valid: oneOf(true, false),
    why: 'abar at the clean end of the grid: 1, or abar of the first training timestep',
  },
  trained_betas: {
    use: 'guard',
    accepts: 'null',
    valid: oneOf(null),
    why: 'explicit betas replace beta_schedule; obelm builds the betas from beta_schedule only',
  },
  rescale_betas_zero_snr: {
    use: 'guard',
    accepts: 'false',
    valid: isOff,
    why: 'rescales the betas to a zero terminal SNR, a training schedule the engine does not build',
  },
  use_karras_sigmas: {
    use: 'guard',
    accepts: 'false',
    valid: isOff,
    why: "replaces the grid with Karras sigmas; obelm's samplers step on training timesteps picked by timestep_spacing",
  },
  use_exponential_sigmas: {
    use: 'guard',
    accepts: 'false',
    valid: isOff,
    why: "replaces the grid with exponential sigmas; obelm's samplers step on training timesteps picked by timestep_spacing",
  },
  use_beta_sigmas: {
    use: 'guard',
    accepts: 'false',
    valid: isOff,
    why: "replaces the grid with beta-distributed sigmas; obelm's samplers step on training timesteps picked by timestep_spacing",
  },
  use_lu_lambdas: {
    use: 'guard',
    accepts: 'false',
    valid: isOff,
    why: "replaces the grid with one uniform in log-SNR; obelm's samplers step on training timesteps picked by timestep_spacing",
  },
  use_flow_sigmas: {
    use: 'guard',
    accepts: 'false',
    valid: isOff,
    why: 'flow-matching sigmas: a model of another family than the eps/v diffusion models obelm runs',
  },
  use_dynamic_shifting: {
    use: 'guard',
    accepts: 'false',
    valid: isOff,
    why: 'resolution-dependent shift of flow-matching sigmas: a model of another family',
  },
  shift_terminal: {
    use: 'guard',
    accepts: 'null',
    valid: oneOf(null),
    why: 'terminal value of shifted flow-matching sigmas: a model of another family',
  },
  thresholding: {
    use: 'guard',
    accepts: 'false',
    valid: isOff,
    why: "dynamic thresholding clips the predicted x_0 at every step; obelm's samplers use the model output as it is",
  },
  timestep_type: {
    use: 'guard',
    accepts: "'discrete'",
    valid: oneOf('discrete'),
    why: "continuous timesteps feed the UNet log-sigmas; obelm's samplers feed integer training timesteps",
  },
  interpolation_type: {
    use: 'guard',
    accepts: "'linear'",
    valid: oneOf('linear'),
    why: "'log_linear' builds a sigma grid between training timesteps; obelm's samplers step on training timesteps",
  },
  lambda_min_clipped: {
    use: 'guard',
    accepts: '-Infinity (no clipping)',
    valid: oneOf(Number.NEGATIVE_INFINITY, null),
    why: "a finite value cuts the noisy end off DPM-Solver's grid; obelm's grid spans all training timesteps",
  },
  variance_type: {
    use: 'guard',
    accepts: "null or a fixed variance ('fixed_small', 'fixed_small_log', 'fixed_large', 'fixed_large_log')",
    valid: oneOf(null, 'fixed_small', 'fixed_small_log', 'fixed_large', 'fixed_large_log'),
    why: "'learned' and 'learned_range' UNets also output their variance (twice the channels), which the samplers do not take",
  },
  _class_name: {
    use: 'ignored',
    why: 'the diffusers sampler the export was saved with; obelm runs its own samplers on the schedule these keys describe',
  },
  _diffusers_version: { use: 'ignored', why: 'metadata: the diffusers version that wrote the file' },
  _use_default_values: {
    use: 'ignored',
    why: 'metadata some diffusers versions wrote: the keys they had filled with class defaults',
  },
  skip_prk_steps: { use: 'ignored', why: "PNDM's Runge-Kutta warm-up steps, part of PNDM's own update" },
  clip_sample: { use: 'ignored', why: "clips the predicted x_0 inside DDIM/DDPM/Heun's own update" },
  clip_sample_range: { use: 'ignored', why: 'the range of clip_sample' },
  sample_max_value: { use: 'ignored', why: 'a bound of thresholding, which is refused when on' },
  dynamic_thresholding_ratio: { use: 'ignored', why: 'a quantile of thresholding, which is refused when on' },
  solver_order: { use: 'ignored', why: "the order of DPM-Solver/DEIS/UniPC's own update" },
  algorithm_type: { use: 'ignored', why: "DPM-Solver/DEIS's update formula" },
  solver_type: { use: 'ignored', why: "DPM-Solver/DEIS/UniPC's second-order update formula" },
  lower_order_final: { use: 'ignored', why: "DPM-Solver/DEIS/UniPC's lower-order last steps" },
  euler_at_final: { use: 'ignored', why: "DPM-Solver's first-order last step" },
  final_sigmas_type: {
    use: 'ignored',
    why: "the last step's target in Euler/DPM-Solver/UniPC; obelm's clean end is set by set_alpha_to_one",
  },
  disable_corrector: { use: 'ignored', why: "steps where UniPC skips its corrector, part of UniPC's update" },
  solver_p: { use: 'ignored', why: "UniPC's optional predictor, part of UniPC's update" },
  predict_x0: { use: 'ignored', why: "older UniPC's choice of update variable, part of UniPC's update" },
  sigma_min: {
    use: 'ignored',
    why: 'a bound of the Karras/exponential/beta sigma grids, which are refused when on',
  },
  sigma_max: {
    use: 'ignored',
    why: 'a bound of the Karras/exponential/beta sigma grids, which are refused when on',
  },
  flow_shift: { use: 'ignored', why: 'shift of flow-matching sigmas, which are refused when on' },
  time_shift_type: { use: 'ignored', why: 'form of the dynamic flow shift, which is refused when on' },
  noise_sampler_seed: { use: 'ignored', why: "the seed of DPM-Solver-SDE's own noise" },
} as const satisfies Record<string, SchedulerKeyRule>;

/** diffusers' timestep spacing where a config names none (see schedulerSettingsOf). */
const DIFFUSERS_SPACING = 'leading';

/** What `scheduler_config.json` says: the training schedule and grid, and what the UNet predicts. */
export interface SchedulerSettings {
  readonly schedule: ScheduleConfig;
  readonly prediction: PredictionType;
}

/**
 * Reads a diffusers scheduler config (parsed JSON) by `SCHEDULER_CONFIG_RULES`. Present keys are honoured:
 * the config says how the model's authors sample it. An absent key means what it meant to the diffusers that
 * wrote the file: `timestep_spacing` 'leading' (the only spacing before the key existed, and still the default of
 * the DDIM, PNDM and DDPM schedulers SD configs name), `steps_offset` 0, `set_alpha_to_one` true (DDIM's default
 * and the BELM paper's final abar of 1), an epsilon prediction. A missing scheduler config leaves the paper's
 * recipe (`sd15Schedule`). Everything the samplers cannot do, and any unknown key, is refused with a
 * `bundle_invalid_manifest` error naming `file` and the keys; an obelm.json beside the export sets the schedule
 * explicitly and skips this reading.
 */
export function schedulerSettingsOf(config: Record<string, unknown>, file: string): SchedulerSettings {
  const rules: Readonly<Record<string, SchedulerKeyRule>> = SCHEDULER_CONFIG_RULES;
  const problems: string[] = [];
  const unknown: string[] = [];
  for (const [key, value] of Object.entries(config)) {
    const rule = Object.hasOwn(rules, key) ? rules[key] : undefined;
    if (!rule) unknown.push(`'${key}'`);
    else if (rule.valid && !rule.valid(value)) {
      problems.push(`'${key}' is ${show(value)}; obelm accepts ${rule.accepts}: ${rule.why}`);
    }
  }
  if (unknown.length > 0) {
    problems.push(
      `unknown setting${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')}: obelm cannot know whether ` +
        `${unknown.length > 1 ? 'they change' : 'it changes'} the training schedule or the sampling grid, so it ` +
        'does not guess; an obelm.json beside the export (its schema is BundleManifest, ' +
        'packages/models/src/bundle/manifest.ts) sets the schedule explicitly and skips reading this file',
    );
  }
  if (problems.length > 0) throw invalid(`${file}: ${problems.join('; ')}`);

  const alphaToOne = config['set_alpha_to_one'] as boolean | undefined;
  const schedule: ScheduleConfig = {
    betaSchedule:
      (config['beta_schedule'] as ScheduleConfig['betaSchedule'] | undefined) ?? sd15Schedule.betaSchedule,
    betaStart: (config['beta_start'] as number | undefined) ?? sd15Schedule.betaStart,
    betaEnd: (config['beta_end'] as number | undefined) ?? sd15Schedule.betaEnd,
    trainTimesteps: (config['num_train_timesteps'] as number | undefined) ?? sd15Schedule.trainTimesteps,
    spacing: (config['timestep_spacing'] as ScheduleConfig['spacing'] | undefined) ?? DIFFUSERS_SPACING,
    stepsOffset: (config['steps_offset'] as number | undefined) ?? 0,
    finalAbar: alphaToOne === false ? 'first' : 'one',
  };
  if (schedule.betaStart > schedule.betaEnd) {
    throw invalid(`${file}: 'beta_start' ${schedule.betaStart} is above 'beta_end' ${schedule.betaEnd}`);
  }
  if (schedule.stepsOffset >= schedule.trainTimesteps) {
    throw invalid(
      `${file}: 'steps_offset' ${schedule.stepsOffset} is not below 'num_train_timesteps' ${schedule.trainTimesteps}`,
    );
  }
  return { schedule, prediction: (config['prediction_type'] as PredictionType | undefined) ?? 'epsilon' };
}

/** What the VAE configs say: the latent channels, the downsampling factor and the latent scaling. */
export interface VaeSettings {
  /** `latent_channels`, when a config states it. */
  readonly latentChannels?: number;
  /** 2^(len(block_out_channels) - 1); 8 when no config states the blocks. */
  readonly factor: number;
  /** `scaling_factor`; 0.18215 (SD 1.x/2.x) when absent. */
  readonly scalingFactor: number;
}

/** The keys of a VAE config obelm reads; the encoder's and the decoder's must agree on each. */
const VAE_KEYS = ['latent_channels', 'block_out_channels', 'scaling_factor', 'shift_factor'] as const;

/**
 * Reads the VAE configs (`vae_decoder/config.json` or `vae/config.json`, and `vae_encoder/config.json` when
 * present, which must agree with it). A VAE whose latents are shifted or normalised per channel before scaling
 * (`shift_factor`, `latents_mean`/`latents_std`: SD3, Flux and SDXL-derived VAEs) is refused: the SD pipeline
 * scales latents by `scaling_factor` alone.
 */
export function vaeSettingsOf(
  configs: readonly { json: Record<string, unknown>; file: string }[],
): VaeSettings {
  const merged: Record<string, unknown> = {};
  const source: Record<string, string> = {};
  for (const { json, file } of configs) {
    for (const key of VAE_KEYS) {
      if (json[key] === undefined) continue;
      if (key in merged && JSON.stringify(merged[key]) !== JSON.stringify(json[key])) {
        throw invalid(
          `${file}: '${key}' is ${show(json[key])} but ${source[key]} says ${show(merged[key])}; ` +
            'the VAE encoder and decoder must come from one VAE',
        );
      }
      merged[key] = json[key];
      source[key] = file;
    }
    for (const key of ['shift_factor', 'latents_mean', 'latents_std']) {
      if (json[key] !== undefined && json[key] !== null) {
        throw invalid(
          `${file}: '${key}' is ${show(json[key])}; obelm's SD pipeline scales latents by scaling_factor ` +
            'alone, so a VAE whose latents are also shifted or normalised (SD3, Flux, SDXL-derived VAEs) is not supported',
        );
      }
    }
  }
  const at = (key: string) => source[key] ?? 'the VAE config';
  const { latent_channels: channels, block_out_channels: blocks, scaling_factor: scaling } = merged;
  if (channels !== undefined && !isIntegerFrom(1)(channels)) {
    throw invalid(
      `${at('latent_channels')}: 'latent_channels' is ${show(channels)}; it must be a positive integer`,
    );
  }
  if (
    blocks !== undefined &&
    !(Array.isArray(blocks) && blocks.length > 0 && blocks.every(isIntegerFrom(1)))
  ) {
    throw invalid(
      `${at('block_out_channels')}: 'block_out_channels' is ${show(blocks)}; it must be a non-empty list of positive integers`,
    );
  }
  if (scaling !== undefined && !(typeof scaling === 'number' && Number.isFinite(scaling) && scaling > 0)) {
    throw invalid(
      `${at('scaling_factor')}: 'scaling_factor' is ${show(scaling)}; it must be a positive number`,
    );
  }
  return {
    ...(channels === undefined ? {} : { latentChannels: channels as number }),
    factor: Array.isArray(blocks) ? 2 ** (blocks.length - 1) : 8,
    scalingFactor: (scaling as number | undefined) ?? sdScalingFactor,
  };
}

/** UNet config keys that, set, mean conditioning beyond the text encoder's hidden states. */
const UNET_EXTRA_CONDITIONING: Readonly<Record<string, string>> = {
  num_class_embeds: 'class labels',
  class_embed_type: 'a class or timestep embedding (e.g. an upscaler noise level)',
  addition_embed_type: 'SDXL-style added conditioning (pooled text embeddings and size/crop time ids)',
  time_cond_proj_dim: 'a guidance-scale embedding (LCM-distilled UNets)',
  encoder_hid_dim_type: 'an image or projected text embedding (Kandinsky, IF)',
};

/** What `unet/config.json` says: the latent size and channels. */
export interface UnetSettings {
  /** [height, width] of the latent; 64 (SD 1.5) when absent. */
  readonly sampleSize: readonly [number, number];
  /** `in_channels`, when stated. */
  readonly inChannels?: number;
}

/**
 * Reads `unet/config.json`: `sample_size` (an integer, or [height, width]) and `in_channels`, which must equal
 * `out_channels` when both are stated. A UNet that takes conditioning the pipeline does not feed (class labels,
 * SDXL's added embeddings, a guidance embedding, an image embedding) is refused.
 */
export function unetSettingsOf(json: Record<string, unknown>, file: string): UnetSettings {
  for (const [key, what] of Object.entries(UNET_EXTRA_CONDITIONING)) {
    if (json[key] !== undefined && json[key] !== null) {
      throw invalid(
        `${file}: '${key}' is ${show(json[key])}: this UNet takes ${what}, which obelm's SD pipeline does not ` +
          "feed; only UNets conditioned on the text encoder's hidden states alone (SD 1.x/2.x) are supported",
      );
    }
  }
  const { sample_size: size, in_channels: inChannels, out_channels: outChannels } = json;
  const sampleSize: [number, number] | undefined =
    size === undefined
      ? [64, 64]
      : isIntegerFrom(1)(size)
        ? [size as number, size as number]
        : Array.isArray(size) && size.length === 2 && size.every(isIntegerFrom(1))
          ? [size[0] as number, size[1] as number]
          : undefined;
  if (!sampleSize) {
    throw invalid(
      `${file}: 'sample_size' is ${show(size)}; it must be a positive integer or [height, width]`,
    );
  }
  for (const [key, channels] of [
    ['in_channels', inChannels],
    ['out_channels', outChannels],
  ] as const) {
    if (channels !== undefined && !isIntegerFrom(1)(channels)) {
      throw invalid(`${file}: '${key}' is ${show(channels)}; it must be a positive integer`);
    }
  }
  if (inChannels !== undefined && outChannels !== undefined && inChannels !== outChannels) {
    throw invalid(
      `${file}: in_channels ${inChannels} and out_channels ${outChannels} differ: ${channelMismatch(inChannels as number)}`,
    );
  }
  return { sampleSize, ...(inChannels === undefined ? {} : { inChannels: inChannels as number }) };
}

/** Why a UNet whose input is not the bare latent is refused. */
function channelMismatch(inChannels: number): string {
  const what =
    inChannels === 9
      ? 'this is an inpainting UNet (9 input channels: the latent, the mask and the masked image), which is not supported'
      : 'this UNet takes more than the latent (or outputs more than eps), which is not supported';
  return `${what}; obelm's SD pipeline feeds the UNet the latent alone and reads eps (or v) of the same channels`;
}

/**
 * The manifest of an optimum/diffusers export that ships no obelm.json, from its diffusers configs:
 * `unet/config.json` (unetSettingsOf), the VAE configs (vaeSettingsOf) and `scheduler/scheduler_config.json`
 * (schedulerSettingsOf: present keys honoured, absent keys the BELM paper's recipe, anything unsupported or
 * unknown refused). A config that is absent leaves SD 1.5's values. The UNet's input channels must equal the
 * VAE's latent channels when both are stated. The UNet's fixed input dims, if any, are checked against this
 * manifest when the bundle opens.
 */
export async function inferSdManifest(dir: string): Promise<BundleManifest> {
  const read = async (...parts: string[]) => {
    const file = join(dir, ...parts);
    const json = await readDiffusersJson(file);
    return json && { json, file };
  };
  const unet = await read('unet', 'config.json');
  const vaeDecoder = (await read('vae_decoder', 'config.json')) ?? (await read('vae', 'config.json'));
  const vaeEncoder = await read('vae_encoder', 'config.json');
  const scheduler = await read('scheduler', 'scheduler_config.json');

  const { sampleSize, inChannels } = unet
    ? unetSettingsOf(unet.json, unet.file)
    : { sampleSize: [64, 64] as const, inChannels: undefined };
  const vae = vaeSettingsOf([vaeDecoder, vaeEncoder].filter((c) => c !== undefined));
  if (inChannels !== undefined && vae.latentChannels !== undefined && inChannels !== vae.latentChannels) {
    throw invalid(
      `${unet?.file}: in_channels ${inChannels} differs from the VAE's latent_channels ${vae.latentChannels}: ` +
        channelMismatch(inChannels),
    );
  }
  const { schedule, prediction } = scheduler
    ? schedulerSettingsOf(scheduler.json, scheduler.file)
    : { schedule: sd15Schedule, prediction: 'epsilon' as const };
  const limits = stepLimitsOf(schedule, scheduler?.file ?? join(dir, 'scheduler', 'scheduler_config.json'));
  const channels = vae.latentChannels ?? inChannels ?? 4;
  const [height, width] = sampleSize;
  const slug =
    basename(dir)
      .toLowerCase()
      .replace(/[^a-z0-9._-]+/g, '-')
      .replace(/^[^a-z0-9]+/, '') || 'sd';

  return {
    format: 1,
    id: slug,
    kind: 'sd',
    description: `Stable Diffusion ONNX export ${basename(dir)} (no obelm.json: inferred)`,
    imageSize: [height * vae.factor, width * vae.factor],
    latentShape: [1, channels, height, width],
    schedule,
    prediction,
    defaults: sd15Defaults,
    limits,
    files: {},
    options: { scalingFactor: vae.scalingFactor },
  };
}

/**
 * The step counts whose grid the samplers can run on `schedule`: from 2 up to the largest N before the first
 * degenerate grid. A config can end every grid on a zero-length step (a final abar of the first timestep with
 * timestep 0 in the grid: 'linspace', or 'leading' without an offset), which diffusers runs as a no-op step and
 * O-BELM cannot (its step sizes must be positive, docs/math.md §1); such a config is refused, and one whose grids
 * degenerate only above some N (e.g. 'trailing' near N = T) gets that N as its limit. The default steps must fit.
 */
function stepLimitsOf(schedule: ScheduleConfig, file: string): StepLimits {
  const top = Math.min(1000, schedule.trainTimesteps);
  let maxSteps = 1;
  let failure: unknown;
  for (let steps = 2; steps <= top; steps++) {
    try {
      buildGrid(schedule, steps);
      maxSteps = steps;
    } catch (error) {
      failure = error;
      break;
    }
  }
  if (maxSteps < sd15Defaults.steps) {
    const reason = failure instanceof Error ? failure.message : String(failure);
    throw invalid(
      `${file}: its sampling grid (timestep_spacing '${schedule.spacing}', steps_offset ${schedule.stepsOffset}, ` +
        `set_alpha_to_one ${schedule.finalAbar === 'one'}) cannot run ${maxSteps < 2 ? 'any number of' : `${maxSteps + 1}`} steps: ${reason}. ` +
        "Set 'steps_offset' to 1 (as SD's own configs do) or 'set_alpha_to_one' to true",
    );
  }
  return { minSteps: 2, maxSteps };
}

/**
 * Reads a diffusers config: undefined when absent; an object, or a `bundle_invalid_manifest` error. diffusers
 * writes JSON with Python's json module, which spells non-finite floats as bare `Infinity`, `-Infinity` and
 * `NaN` (e.g. DPM-Solver's `"lambda_min_clipped": -Infinity`), so those are read as the numbers they mean.
 */
async function readDiffusersJson(file: string): Promise<Record<string, unknown> | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    return undefined;
  }
  let json: unknown;
  try {
    json = parsePythonJson(text);
  } catch (error) {
    throw new ModelError('bundle_invalid_manifest', `${file} is not valid JSON`, { cause: error });
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw invalid(`${file}: expected a JSON object`);
  }
  return json as Record<string, unknown>;
}

/** Marks a bare non-finite number for the reviver (a raw NUL cannot start a real config string). */
const NON_FINITE = '\u0000number:';

/** JSON.parse that also reads Python's bare Infinity, -Infinity and NaN outside strings. */
export function parsePythonJson(text: string): unknown {
  const marked = text.replace(/"(?:[^"\\]|\\.)*"|-?\b(?:Infinity|NaN)\b/g, (token) =>
    token.startsWith('"') ? token : JSON.stringify(NON_FINITE + token),
  );
  return JSON.parse(marked, (_key, value) =>
    typeof value === 'string' && value.startsWith(NON_FINITE)
      ? Number(value.slice(NON_FINITE.length))
      : value,
  );
}

/** A value as a config would spell it (JSON.stringify turns -Infinity into null). */
function show(value: unknown): string {
  return typeof value === 'number' ? String(value) : JSON.stringify(value);
}

function invalid(message: string): ModelError {
  return new ModelError('bundle_invalid_manifest', message);
}
