import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { alphasCumprod, inferenceTimesteps } from '@obelm/engine';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseManifest } from '../src/bundle/manifest.ts';
import { inferSdManifest, SCHEDULER_CONFIG_RULES, sd15Schedule } from '../src/sd/config.ts';
import { SD2_V_SCHEDULER_CONFIG, SD15_SCHEDULER_CONFIG } from '../src/testing.ts';

/** The configs of an export, as the files diffusers/optimum write (raw text allows Python's -Infinity). */
interface ExportConfigs {
  readonly scheduler?: object | string;
  readonly unet?: object;
  readonly vaeDecoder?: object;
  readonly vaeEncoder?: object;
  /** The single-folder layout of a diffusers (PyTorch) checkout instead of vae_decoder/. */
  readonly vae?: object;
}

/** SD 1.5's and SD 2.1-v's scheduler configs as published (the tiny exports' fixtures). */
const sd15Scheduler = SD15_SCHEDULER_CONFIG;
const sd21vScheduler = SD2_V_SCHEDULER_CONFIG;

const sdVae = {
  _class_name: 'AutoencoderKL',
  in_channels: 3,
  out_channels: 3,
  latent_channels: 4,
  block_out_channels: [128, 256, 512, 512],
  scaling_factor: 0.18215,
};

let root: string;
let count = 0;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'obelm-sdconfig-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

/** Writes the JSON files of an export (no models: inferSdManifest reads configs only) and returns its folder. */
async function exportWith(configs: ExportConfigs): Promise<string> {
  const dir = join(root, `export-${++count}`);
  const files: [string, object | string | undefined][] = [
    ['scheduler/scheduler_config.json', configs.scheduler],
    ['unet/config.json', configs.unet],
    ['vae_decoder/config.json', configs.vaeDecoder],
    ['vae_encoder/config.json', configs.vaeEncoder],
    ['vae/config.json', configs.vae],
  ];
  for (const [path, content] of files) {
    if (content === undefined) continue;
    await mkdir(join(dir, path, '..'), { recursive: true });
    await writeFile(join(dir, path), typeof content === 'string' ? content : JSON.stringify(content));
  }
  await mkdir(dir, { recursive: true });
  return dir;
}

const infer = async (configs: ExportConfigs) => inferSdManifest(await exportWith(configs));

/** The refusal of an export: its code and message. */
async function refusal(configs: ExportConfigs): Promise<{ code: string; message: string }> {
  const error = await infer(configs).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error, 'the export should be refused').toBeDefined();
  return { code: (error as { code: string }).code, message: (error as Error).message };
}

describe('inferSdManifest: the scheduler config', () => {
  it("reads SD 1.5's published config: leading (diffusers' meaning of absent), steps offset 1, final abar of the first timestep", async () => {
    const manifest = await infer({
      scheduler: sd15Scheduler,
      unet: { in_channels: 4, out_channels: 4, sample_size: 64 },
      vaeDecoder: sdVae,
    });
    expect(manifest.schedule).toEqual({
      betaSchedule: 'scaled_linear',
      betaStart: 0.00085,
      betaEnd: 0.012,
      trainTimesteps: 1000,
      spacing: 'leading',
      stepsOffset: 1,
      finalAbar: 'first',
    });
    // diffusers' own grid for this config: 50 steps from 981 down to 1.
    expect(inferenceTimesteps(manifest.schedule, 50).at(0)).toBe(981);
    expect(inferenceTimesteps(manifest.schedule, 50).at(-1)).toBe(1);
    // 1000 steps would need timestep 1000 (offset 1), past the schedule.
    expect(manifest.limits).toEqual({ minSteps: 2, maxSteps: 999 });
    expect(manifest.prediction).toBe('epsilon');
    expect(manifest.imageSize).toEqual([512, 512]);
    expect(manifest.latentShape).toEqual([1, 4, 64, 64]);
    expect(manifest.options).toEqual({ scalingFactor: 0.18215 });
    // The inferred manifest is one obelm.json could hold.
    expect(parseManifest(JSON.parse(JSON.stringify(manifest)), 'inferred')).toEqual(manifest);
  });

  it("reads SD 2.1-v's config: v_prediction, and a 96-latent UNet makes 768 px", async () => {
    const manifest = await infer({
      scheduler: sd21vScheduler,
      unet: { in_channels: 4, out_channels: 4, sample_size: 96 },
      vaeDecoder: sdVae,
    });
    expect(manifest.prediction).toBe('v_prediction');
    expect(manifest.schedule).toMatchObject({ spacing: 'leading', stepsOffset: 1, finalAbar: 'first' });
    expect(manifest.imageSize).toEqual([768, 768]);
    expect(parseManifest(JSON.parse(JSON.stringify(manifest)), 'inferred').prediction).toBe('v_prediction');
  });

  it('honours the spacing of a config re-saved by a recent diffusers (every key listed)', async () => {
    const trailing = await infer({
      scheduler: {
        ...sd21vScheduler,
        _diffusers_version: '0.30.0',
        dynamic_thresholding_ratio: 0.995,
        clip_sample_range: 1.0,
        rescale_betas_zero_snr: false,
        sample_max_value: 1.0,
        thresholding: false,
        timestep_spacing: 'trailing',
        set_alpha_to_one: true,
        steps_offset: 0,
      },
    });
    expect(trailing.schedule).toMatchObject({ spacing: 'trailing', stepsOffset: 0, finalAbar: 'one' });
    // trailing starts the grid at the last training timestep, linspace too; leading + offset 1 does not.
    expect(inferenceTimesteps(trailing.schedule, 10)).toEqual([
      999, 899, 799, 699, 599, 499, 399, 299, 199, 99,
    ]);

    const leading = await infer({ scheduler: { ...sd15Scheduler, timestep_spacing: 'leading' } });
    expect(leading.schedule).toMatchObject({ spacing: 'leading', stepsOffset: 1 });
    expect(inferenceTimesteps(leading.schedule, 10)).toEqual([
      901, 801, 701, 601, 501, 401, 301, 201, 101, 1,
    ]);
  });

  it('reads a linear beta schedule, and Python JSON spelling -Infinity (a DPM-Solver config)', async () => {
    const text = `{
      "_class_name": "DPMSolverMultistepScheduler", "algorithm_type": "dpmsolver++",
      "beta_schedule": "linear", "beta_start": 0.0001, "beta_end": 0.02, "num_train_timesteps": 1000,
      "euler_at_final": false, "final_sigmas_type": "zero", "lambda_min_clipped": -Infinity,
      "lower_order_final": true, "solver_order": 2, "solver_type": "midpoint", "use_karras_sigmas": false,
      "use_lu_lambdas": false, "variance_type": null, "timestep_spacing": "linspace", "steps_offset": 0,
      "prediction_type": "epsilon", "thresholding": false, "sample_max_value": 1.0,
      "dynamic_thresholding_ratio": 0.995, "trained_betas": null, "flow_shift": 1.0,
      "description": "text with Infinity and NaN inside a string"
    }`;
    const refused = await refusal({ scheduler: text });
    // The only problem is the unknown 'description': the -Infinity parsed and passed its rule.
    expect(refused.message).toMatch(/unknown setting 'description'/);
    expect(refused.message).not.toMatch(/lambda_min_clipped/);

    const manifest = await infer({ scheduler: text.replace(/,\s*"description"[^\n]*/, '') });
    expect(manifest.schedule).toMatchObject({ betaSchedule: 'linear', betaStart: 0.0001, betaEnd: 0.02 });
    // The linear betas really are read: abar_T differs from SD's scaled_linear one.
    expect(alphasCumprod(manifest.schedule)[999]).not.toBeCloseTo(alphasCumprod(sd15Schedule)[999]!, 4);
  });

  it("reads absent keys as diffusers did (leading, offset 0, alpha to one), and keeps the paper's recipe without configs", async () => {
    const bare = await infer({});
    expect(bare.schedule).toEqual(sd15Schedule);
    expect(bare.prediction).toBe('epsilon');
    expect(bare.latentShape).toEqual([1, 4, 64, 64]);
    expect(bare.imageSize).toEqual([512, 512]);
    expect(bare.options).toEqual({ scalingFactor: 0.18215 });

    const onlyBetas = await infer({ scheduler: { beta_start: 0.001, beta_end: 0.015 } });
    expect(onlyBetas.schedule).toEqual({
      ...sd15Schedule,
      betaStart: 0.001,
      betaEnd: 0.015,
      spacing: 'leading',
      stepsOffset: 0,
      finalAbar: 'one',
    });
  });

  it('refuses a config whose every grid ends on a zero-length step, and limits steps where grids degenerate late', async () => {
    // set_alpha_to_one false with timestep 0 in the grid: the last step would go from abar_0 to abar_0.
    for (const scheduler of [
      { set_alpha_to_one: false },
      { set_alpha_to_one: false, timestep_spacing: 'linspace', steps_offset: 1 },
    ]) {
      const refused = await refusal({ scheduler });
      expect(refused.code).toBe('bundle_invalid_manifest');
      expect(refused.message).toMatch(
        /scheduler_config\.json: its sampling grid .* cannot run any number of steps/,
      );
      expect(refused.message).toMatch(/Set 'steps_offset' to 1/);
    }
    // trailing with the first abar: timestep 0 enters the grid only at N = T.
    const trailing = await infer({ scheduler: { set_alpha_to_one: false, timestep_spacing: 'trailing' } });
    expect(trailing.limits?.maxSteps).toBeLessThan(1000);
    expect(trailing.limits?.maxSteps).toBeGreaterThanOrEqual(500);
  });

  it('ignores the keys that only configure a diffusers sampler', async () => {
    const ignored = Object.entries(SCHEDULER_CONFIG_RULES)
      .filter(([, rule]) => rule.use === 'ignored')
      .map(([key]) => key);
    expect(ignored).toEqual(
      expect.arrayContaining(['_class_name', 'skip_prk_steps', 'clip_sample', 'solver_order']),
    );
    const manifest = await infer({ scheduler: Object.fromEntries(ignored.map((key) => [key, 'anything'])) });
    expect(manifest.schedule).toEqual(
      (await infer({ scheduler: { _class_name: 'DDIMScheduler' } })).schedule,
    );
  });

  it.each([
    [
      "'sample' prediction",
      { prediction_type: 'sample' },
      /'prediction_type' is "sample"; obelm accepts 'epsilon' or 'v_prediction'/,
    ],
    [
      'squaredcos_cap_v2 betas',
      { beta_schedule: 'squaredcos_cap_v2' },
      /'beta_schedule' is "squaredcos_cap_v2".*not implemented/,
    ],
    [
      'explicit betas',
      { trained_betas: [0.001, 0.002] },
      /'trained_betas' is \[0.001,0.002\]; obelm accepts null/,
    ],
    [
      'zero terminal SNR',
      { rescale_betas_zero_snr: true },
      /'rescale_betas_zero_snr' is true.*zero terminal SNR/,
    ],
    ['Karras sigmas', { use_karras_sigmas: true }, /'use_karras_sigmas' is true.*Karras sigmas/],
    ['a negative steps offset', { steps_offset: -1 }, /'steps_offset' is -1; obelm accepts an integer >= 0/],
    [
      'a steps offset past the schedule',
      { steps_offset: 1000 },
      /'steps_offset' 1000 is not below 'num_train_timesteps' 1000/,
    ],
    [
      'beta_start above beta_end',
      { beta_start: 0.02, beta_end: 0.01 },
      /'beta_start' 0.02 is above 'beta_end' 0.01/,
    ],
    [
      'a string for set_alpha_to_one',
      { set_alpha_to_one: 'false' },
      /'set_alpha_to_one' is "false"; obelm accepts true or false/,
    ],
  ])('refuses %s, naming the file and the key', async (_, change, message) => {
    const refused = await refusal({ scheduler: { ...sd15Scheduler, ...change } });
    expect(refused.code).toBe('bundle_invalid_manifest');
    expect(refused.message).toMatch(/scheduler[/\\]scheduler_config\.json: /);
    expect(refused.message).toMatch(message);
  });

  it('refuses unknown keys, all named, and points to obelm.json', async () => {
    const refused = await refusal({
      scheduler: { ...sd15Scheduler, original_inference_steps: 50, timestep_scaling: 10 },
    });
    expect(refused.code).toBe('bundle_invalid_manifest');
    expect(refused.message).toMatch(
      /scheduler_config\.json: unknown settings 'original_inference_steps', 'timestep_scaling'/,
    );
    expect(refused.message).toMatch(/cannot know whether they change the training schedule/);
    expect(refused.message).toMatch(/obelm\.json beside the export.*BundleManifest/);
    // An own key named like an Object prototype member is unknown too, not a rule.
    expect((await refusal({ scheduler: { toString: 1 } })).message).toMatch(/unknown setting 'toString'/);
  });

  it('lists every problem of a config at once', async () => {
    const refused = await refusal({
      scheduler: { prediction_type: 'sample', use_karras_sigmas: true, foo: 1 },
    });
    expect(refused.message).toMatch(/'prediction_type'.*; 'use_karras_sigmas'.*; unknown setting 'foo'/);
  });

  // Per guard key: a value the samplers cannot honour, and the value that leaves the schedule as obelm runs it.
  // The table must cover every guard of SCHEDULER_CONFIG_RULES.
  const guardValues: Record<string, { refused: unknown; accepted: unknown }> = {
    trained_betas: { refused: [0.001], accepted: null },
    rescale_betas_zero_snr: { refused: true, accepted: false },
    use_karras_sigmas: { refused: true, accepted: false },
    use_exponential_sigmas: { refused: true, accepted: false },
    use_beta_sigmas: { refused: true, accepted: false },
    use_lu_lambdas: { refused: true, accepted: false },
    use_flow_sigmas: { refused: true, accepted: false },
    use_dynamic_shifting: { refused: true, accepted: false },
    shift_terminal: { refused: 0.02, accepted: null },
    thresholding: { refused: true, accepted: false },
    timestep_type: { refused: 'continuous', accepted: 'discrete' },
    interpolation_type: { refused: 'log_linear', accepted: 'linear' },
    lambda_min_clipped: { refused: -5.1, accepted: null },
    variance_type: { refused: 'learned_range', accepted: 'fixed_small' },
  };

  it('refuses each guard key set to a value that changes the schedule or the grid, and accepts it off', async () => {
    const guards = Object.entries(SCHEDULER_CONFIG_RULES)
      .filter(([, rule]) => rule.use === 'guard')
      .map(([key]) => key);
    expect(Object.keys(guardValues).sort()).toEqual([...guards].sort());
    for (const [key, { refused, accepted }] of Object.entries(guardValues)) {
      const { message } = await refusal({ scheduler: { ...sd15Scheduler, [key]: refused } });
      expect(message).toMatch(new RegExp(`scheduler_config\\.json: '${key}' is .*; obelm accepts`));
      const manifest = await infer({ scheduler: { ...sd15Scheduler, [key]: accepted } });
      expect(manifest.schedule.finalAbar).toBe('first');
    }
  });
});

describe('inferSdManifest: the VAE and UNet configs', () => {
  it('reads the latent channels, the VAE factor and the scaling factor, from vae/ when there is no vae_decoder/', async () => {
    const manifest = await infer({
      unet: { in_channels: 4, sample_size: 32 },
      vae: { ...sdVae, block_out_channels: [64, 64, 64], scaling_factor: 0.13025 },
    });
    expect(manifest.imageSize).toEqual([128, 128]); // 32 latents x 2^(3 - 1)
    expect(manifest.options).toEqual({ scalingFactor: 0.13025 });

    const rectangular = await infer({ unet: { in_channels: 4, sample_size: [48, 64] }, vaeDecoder: sdVae });
    expect(rectangular.latentShape).toEqual([1, 4, 48, 64]);
    expect(rectangular.imageSize).toEqual([384, 512]);
  });

  it('accepts a VAE encoder config that agrees with the decoder', async () => {
    const manifest = await infer({ vaeDecoder: sdVae, vaeEncoder: { ...sdVae, sample_size: 512 } });
    expect(manifest.options).toEqual({ scalingFactor: 0.18215 });
  });

  it('refuses a VAE encoder config that disagrees with the decoder', async () => {
    const refused = await refusal({ vaeDecoder: sdVae, vaeEncoder: { ...sdVae, scaling_factor: 0.13025 } });
    expect(refused.code).toBe('bundle_invalid_manifest');
    expect(refused.message).toMatch(
      /vae_encoder[/\\]config\.json: 'scaling_factor' is 0\.13025 but .*vae_decoder[/\\]config\.json says 0\.18215/,
    );
  });

  it('refuses a VAE with a shift factor (SD3, Flux) or per-channel latent statistics', async () => {
    const shifted = await refusal({ vaeDecoder: { ...sdVae, latent_channels: 16, shift_factor: 0.0609 } });
    expect(shifted.code).toBe('bundle_invalid_manifest');
    expect(shifted.message).toMatch(/vae_decoder[/\\]config\.json: 'shift_factor' is 0\.0609.*not supported/);
    const normalised = await refusal({ vaeDecoder: { ...sdVae, latents_mean: [0.1, 0.2, 0.3, 0.4] } });
    expect(normalised.message).toMatch(/'latents_mean'/);
    // null, as SD's own VAE configs write it, passes.
    await expect(
      infer({ vaeDecoder: { ...sdVae, shift_factor: null, latents_mean: null } }),
    ).resolves.toBeDefined();
  });

  it('refuses an inpainting UNet (9 input channels)', async () => {
    const refused = await refusal({
      unet: { in_channels: 9, out_channels: 4, sample_size: 64 },
      vaeDecoder: sdVae,
    });
    expect(refused.code).toBe('bundle_invalid_manifest');
    expect(refused.message).toMatch(/unet[/\\]config\.json: in_channels 9 .*inpainting UNet.*not supported/);
    // Against the VAE's latent channels too, when the UNet config states no out_channels.
    const againstVae = await refusal({ unet: { in_channels: 9 }, vaeDecoder: sdVae });
    expect(againstVae.message).toMatch(
      /in_channels 9 differs from the VAE's latent_channels 4: .*inpainting/,
    );
  });

  it('refuses a UNet that also outputs its variance', async () => {
    const refused = await refusal({ unet: { in_channels: 4, out_channels: 8 } });
    expect(refused.message).toMatch(/in_channels 4 and out_channels 8 differ/);
  });

  it.each([
    ['num_class_embeds', 1000, /class labels/],
    ['class_embed_type', 'timestep', /class or timestep embedding/],
    ['addition_embed_type', 'text_time', /SDXL-style added conditioning/],
    ['time_cond_proj_dim', 256, /guidance-scale embedding/],
  ])('refuses a UNet with %s set (extra conditioning)', async (key, value, what) => {
    const refused = await refusal({ unet: { in_channels: 4, out_channels: 4, [key]: value } });
    expect(refused.code).toBe('bundle_invalid_manifest');
    expect(refused.message).toMatch(new RegExp(`unet[/\\\\]config\\.json: '${key}' is`));
    expect(refused.message).toMatch(what);
    expect(refused.message).toMatch(/does not feed/);
  });

  it("accepts SD 1.5's UNet config with its null conditioning keys", async () => {
    const manifest = await infer({
      unet: {
        in_channels: 4,
        out_channels: 4,
        sample_size: 64,
        num_class_embeds: null,
        class_embed_type: null,
        addition_embed_type: null,
        time_cond_proj_dim: null,
      },
      vaeDecoder: sdVae,
    });
    expect(manifest.latentShape).toEqual([1, 4, 64, 64]);
  });

  it('refuses a config that is not JSON, naming the file', async () => {
    const refused = await refusal({ scheduler: '{"beta_start": 0.00085,' });
    expect(refused.code).toBe('bundle_invalid_manifest');
    expect(refused.message).toMatch(/scheduler_config\.json is not valid JSON/);
  });
});
