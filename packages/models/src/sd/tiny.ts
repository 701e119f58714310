/**
 * Tiny random-weight Stable Diffusion bundles in the layouts the export tools write, for tests: the same folder
 * names, graph input/output names, dtypes, shapes and diffusers configs as a real export, at 64x64 pixels /
 * [1, 4, 8, 8] latents and 32-wide hidden states unless `latentSize` / `hiddenSize` say otherwise.
 *
 *   text_encoder: input_ids [B, 77] -> Gather(token table) + position table -> last_hidden_state [B, 77, 32],
 *                 pooler_output [B, 32] (the first position)
 *   unet:         sample [B, 4, 8, 8], timestep (scalar, [1] or [B]), encoder_hidden_states [B, 77, 32] -> out_sample
 *                 Conv3x3 -> + Gather(timestep table) -> * (1 + W ehs) -> SiLU -> Conv3x3
 *   vae_encoder:  sample [B, 3, 64, 64] -> Conv 8x8 stride 8 -> posterior mean | logvar [B, 8, 8, 8], returned as
 *                 is (latent_parameters), as its mean (4 channels), or sampled: mean + exp(logvar / 2) * noise
 *   vae_decoder:  latent_sample [B, 4, 8, 8] -> ConvTranspose 8x8 stride 8 -> Tanh -> sample [B, 3, 64, 64]
 *
 * fp16 bundles keep float16 inputs, outputs and weights (as fp16 exports do) and compute in float32 inside the
 * graph, because onnxruntime's CPU provider lacks float16 kernels for most of these ops.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type BundleManifest, MANIFEST_FILE } from '../bundle/manifest.ts';
import { attr, GraphBuilder } from '../onnx/graph.ts';
import { float64ToHalf } from '../runtime/cast.ts';
import { writeTinyClipTokenizer } from '../tokenizer/tiny.ts';
import { inferSdManifest } from './config.ts';

/** Who wrote the export: its symbolic dim names and model_index.json. */
export type TinySdLayout = 'optimum' | 'diffusers-script';

/**
 * What the vae_encoder returns: the posterior parameters mean | logvar (8 channels), their mean (4), or a sample
 * of the posterior drawn by a RandomNormalLike node (4; the older diffusers script's `.sample()`).
 */
export type TinySdEncoder = 'parameters' | 'mean' | 'sample';

export interface TinySdOptions {
  /** Default 'optimum'. */
  readonly layout?: TinySdLayout;
  /** float16 model inputs, outputs and weights (default false: float32). */
  readonly fp16?: boolean;
  /** dtype of the UNet's `timestep` input (default 'int64'). */
  readonly timestep?: 'int64' | 'float32' | 'float16';
  /** Shape of the UNet's `timestep`: rank 0, [1], or [batch] (symbolic). Default 'scalar', as optimum exports it. */
  readonly timestepShape?: 'scalar' | 'one' | 'batch';
  /** dtype of the text encoder's `input_ids` (default 'int64', as optimum exports it). */
  readonly inputIds?: 'int32' | 'int64';
  /** Default 'parameters'. */
  readonly encoder?: TinySdEncoder;
  /** Name of the vae_encoder output; default `latent_parameters` for 'parameters', else `latent_sample`. */
  readonly encoderOutput?: 'latent_parameters' | 'latent_sample';
  /** `scheduler/scheduler_config.json` (default: SD 1.5's as today's optimum re-saves it). */
  readonly scheduler?: Readonly<Record<string, unknown>>;
  /** The tokenizer's pad token (default `<|endoftext|>`, SD 1.x; SD 2.x pads with `!`). */
  readonly padToken?: string;
  readonly seed?: number;
  /**
   * Width of the text encoder's hidden states, the UNet's cross-attention input (default tinySd.hiddenSize; SD 1.5
   * has 768): a real-size UNet export put in place of the tiny one (scripts/device) needs its real width.
   */
  readonly hiddenSize?: number;
  /** Latent side the configs declare, pixels 8 times it (default tinySd.latentSize; SD 1.5 has 64). */
  readonly latentSize?: number;
  /** Also write an obelm.json manifest (default false: the bundle loads through manifest inference). */
  readonly manifest?: boolean;
}

export const tinySd = {
  imageSize: 64,
  latentChannels: 4,
  latentSize: 8,
  hiddenSize: 32,
  unetChannels: 16,
  sequenceLength: 77,
  trainTimesteps: 1000,
} as const;

/** `scheduler/scheduler_config.json` as runwayml/stable-diffusion-v1-5 ships it on the Hub. */
export const SD15_SCHEDULER_CONFIG: Readonly<Record<string, unknown>> = {
  _class_name: 'PNDMScheduler',
  _diffusers_version: '0.6.0',
  beta_end: 0.012,
  beta_schedule: 'scaled_linear',
  beta_start: 0.00085,
  num_train_timesteps: 1000,
  set_alpha_to_one: false,
  skip_prk_steps: true,
  steps_offset: 1,
  trained_betas: null,
  clip_sample: false,
};

/** `scheduler/scheduler_config.json` as stabilityai/stable-diffusion-2 (768 px, v-prediction) ships it on the Hub. */
export const SD2_V_SCHEDULER_CONFIG: Readonly<Record<string, unknown>> = {
  _class_name: 'DDIMScheduler',
  _diffusers_version: '0.8.0',
  beta_end: 0.012,
  beta_schedule: 'scaled_linear',
  beta_start: 0.00085,
  clip_sample: false,
  num_train_timesteps: 1000,
  prediction_type: 'v_prediction',
  set_alpha_to_one: false,
  skip_prk_steps: true,
  steps_offset: 1,
  trained_betas: null,
};

/**
 * The scheduler config as an exporter re-saves it: the tool loads the Hub's config into diffusers' scheduler class
 * and writes `scheduler.save_pretrained`, which lists every argument of the class (defaults included) of that
 * diffusers version. Today's optimum runs a recent diffusers (0.30: PNDM and DDIM add `prediction_type` and
 * `timestep_spacing` 'leading', DDIM its thresholding and zero-SNR switches); the older script ran diffusers
 * 0.8, whose classes had neither.
 */
function resaved(
  hub: Readonly<Record<string, unknown>>,
  diffusers: '0.8.0' | '0.30.3',
): Record<string, unknown> {
  if (diffusers === '0.8.0') return { ...hub, _diffusers_version: diffusers };
  const ddim =
    hub['_class_name'] === 'DDIMScheduler'
      ? {
          clip_sample_range: 1,
          dynamic_thresholding_ratio: 0.995,
          rescale_betas_zero_snr: false,
          sample_max_value: 1,
          thresholding: false,
        }
      : {};
  return {
    prediction_type: 'epsilon',
    ...hub,
    ...ddim,
    _diffusers_version: diffusers,
    timestep_spacing: 'leading',
  };
}

/**
 * The exports people have:
 * - 'optimum': today's `optimum-cli export onnx --task text-to-image` of SD 1.5: int64 `input_ids`, a rank-0 int64
 *   `timestep`, a VAE encoder returning `latent_parameters` (mean | logvar); SD 1.5's scheduler config re-saved
 *   by diffusers 0.30 (`timestep_spacing` 'leading');
 * - 'optimum-fp16': the same with `--dtype fp16` (float16 weights and float IO; the timestep stays int64);
 * - 'diffusers-script': diffusers' older scripts/convert_stable_diffusion_checkpoint_to_onnx.py with the VAE
 *   encoder patched to return the posterior mean: int32 `input_ids`, a float32 `timestep` of shape [batch],
 *   `latent_sample` of 4 channels; SD 1.5's scheduler config re-saved by diffusers 0.8 (no `timestep_spacing`);
 * - 'diffusers-script-random': that script as published, whose VAE encoder samples the posterior with a
 *   RandomNormalLike node (obelm refuses it at load);
 * - 'sd2-v': today's optimum export of SD 2.x 768-v: SD 2's DDIM config (`prediction_type` 'v_prediction')
 *   re-saved by diffusers 0.30, a tokenizer padding with `!`.
 */
export type TinySdFlavor =
  | 'optimum'
  | 'optimum-fp16'
  | 'diffusers-script'
  | 'diffusers-script-random'
  | 'sd2-v';

const DIFFUSERS_SCRIPT: TinySdOptions = {
  layout: 'diffusers-script',
  scheduler: resaved(SD15_SCHEDULER_CONFIG, '0.8.0'),
  inputIds: 'int32',
  timestep: 'float32',
  timestepShape: 'batch',
  encoder: 'mean',
};

/** The writer options of each flavor. */
export const TINY_SD_FLAVORS: Readonly<Record<TinySdFlavor, TinySdOptions>> = {
  optimum: {},
  'optimum-fp16': { fp16: true },
  'diffusers-script': DIFFUSERS_SCRIPT,
  'diffusers-script-random': { ...DIFFUSERS_SCRIPT, encoder: 'sample' },
  'sd2-v': { scheduler: resaved(SD2_V_SCHEDULER_CONFIG, '0.30.3'), padToken: '!' },
};

/** Writes a tiny export of `flavor` into `dir` (no obelm.json: it loads as the real export would). */
export async function writeTinySdExport(dir: string, flavor: TinySdFlavor, seed?: number): Promise<void> {
  await writeTinySdBundle(dir, { ...TINY_SD_FLAVORS[flavor], ...(seed === undefined ? {} : { seed }) });
}

/**
 * Writes the bundle folder; without `manifest` it has no obelm.json, like a plain export. Both layouts carry
 * `unet/config.json` and the VAE configs with the tiny sizes: optimum writes them; the older script writes none
 * (sizes would then default to SD 1.5's 512 px), so here they stand for the torch pipeline's configs a user
 * keeps beside such an export.
 */
export async function writeTinySdBundle(dir: string, options: TinySdOptions = {}): Promise<void> {
  const random = mulberry32(options.seed ?? 1234);
  const layout = options.layout ?? 'optimum';
  const fp16 = options.fp16 ?? false;
  const encoder = options.encoder ?? 'parameters';
  await writeTokenizer(join(dir, 'tokenizer'), options.padToken);
  const vocabSize = Object.keys(
    JSON.parse(await readFile(join(dir, 'tokenizer', 'vocab.json'), 'utf8')),
  ).length;

  const names = DIM_NAMES[layout];
  const size: TinySize = {
    hiddenSize: options.hiddenSize ?? tinySd.hiddenSize,
    latentSize: options.latentSize ?? tinySd.latentSize,
  };
  const models: Record<string, Uint8Array> = {
    text_encoder: textEncoder(random, fp16, vocabSize, options.inputIds ?? 'int64', names, size.hiddenSize),
    unet: unet(
      random,
      fp16,
      options.timestep ?? 'int64',
      options.timestepShape ?? 'scalar',
      names,
      size.hiddenSize,
    ),
    vae_encoder: vaeEncoder(
      random,
      fp16,
      encoder,
      options.encoderOutput ?? (encoder === 'parameters' ? 'latent_parameters' : 'latent_sample'),
      names,
    ),
    vae_decoder: vaeDecoder(random, fp16, names),
  };
  for (const [name, bytes] of Object.entries(models)) {
    await mkdir(join(dir, name), { recursive: true });
    await writeFile(join(dir, name, 'model.onnx'), bytes);
  }
  const json = (path: string, value: unknown) => writeFile(join(dir, path), JSON.stringify(value, null, 2));
  await json('model_index.json', MODEL_INDEX[layout]);
  await json('unet/config.json', unetConfig(size));
  await json('vae_encoder/config.json', vaeConfig(size));
  await json('vae_decoder/config.json', vaeConfig(size));
  if (layout === 'optimum')
    await json('text_encoder/config.json', textEncoderConfig(vocabSize, size.hiddenSize));
  await mkdir(join(dir, 'scheduler'), { recursive: true });
  await json(
    'scheduler/scheduler_config.json',
    options.scheduler ?? resaved(SD15_SCHEDULER_CONFIG, '0.30.3'),
  );
  if (options.manifest) {
    const manifest: BundleManifest = {
      ...(await inferSdManifest(dir)),
      id: 'tiny-sd',
      description: 'tiny random-weight SD-layout test bundle',
    };
    await json(MANIFEST_FILE, manifest);
  }
}

/** The tiny CLIP tokenizer, with SD 2.x's pad token when asked (its OpenCLIP tokenizer pads with `!`). */
async function writeTokenizer(dir: string, padToken: string | undefined): Promise<void> {
  await writeTinyClipTokenizer(dir);
  if (padToken === undefined) return;
  for (const file of ['tokenizer_config.json', 'special_tokens_map.json']) {
    const path = join(dir, file);
    const config = JSON.parse(await readFile(path, 'utf8')) as Record<string, unknown>;
    await writeFile(path, JSON.stringify({ ...config, pad_token: padToken }));
  }
}

/** The symbolic dims each tool names (optimum's OnnxConfigs; the script's `dynamic_axes`). */
const DIM_NAMES = {
  optimum: { batch: 'batch_size', sequence: 'sequence_length', channels: 'num_channels' },
  'diffusers-script': { batch: 'batch', sequence: 'sequence', channels: 'channels' },
} as const;
type DimNames = (typeof DIM_NAMES)[TinySdLayout];

const MODEL_INDEX: Record<TinySdLayout, Record<string, unknown>> = {
  optimum: {
    _class_name: 'ORTStableDiffusionPipeline',
    _diffusers_version: '0.30.3',
    feature_extractor: [null, null],
    requires_safety_checker: false,
    safety_checker: [null, null],
    scheduler: ['diffusers', 'PNDMScheduler'],
    text_encoder: ['optimum', 'ORTModelTextEncoder'],
    tokenizer: ['transformers', 'CLIPTokenizer'],
    unet: ['optimum', 'ORTModelUnet'],
    vae_decoder: ['optimum', 'ORTModelVaeDecoder'],
    vae_encoder: ['optimum', 'ORTModelVaeEncoder'],
  },
  'diffusers-script': {
    _class_name: 'OnnxStableDiffusionPipeline',
    _diffusers_version: '0.8.0',
    feature_extractor: [null, null],
    requires_safety_checker: false,
    safety_checker: [null, null],
    scheduler: ['diffusers', 'PNDMScheduler'],
    text_encoder: ['diffusers', 'OnnxRuntimeModel'],
    tokenizer: ['transformers', 'CLIPTokenizer'],
    unet: ['diffusers', 'OnnxRuntimeModel'],
    vae_decoder: ['diffusers', 'OnnxRuntimeModel'],
    vae_encoder: ['diffusers', 'OnnxRuntimeModel'],
  },
};

/** The sizes a bundle may change: the rest of the tiny network is fixed. */
interface TinySize {
  readonly hiddenSize: number;
  readonly latentSize: number;
}

const unetConfig = (size: TinySize) => ({
  _class_name: 'UNet2DConditionModel',
  _diffusers_version: '0.6.0',
  act_fn: 'silu',
  block_out_channels: [tinySd.unetChannels],
  cross_attention_dim: size.hiddenSize,
  in_channels: tinySd.latentChannels,
  layers_per_block: 1,
  out_channels: tinySd.latentChannels,
  sample_size: size.latentSize,
});

const vaeConfig = (size: TinySize) => ({
  _class_name: 'AutoencoderKL',
  _diffusers_version: '0.6.0',
  act_fn: 'silu',
  block_out_channels: [8, 8, 8, 8], // 3 downsamplings: pixels 8 times the latent side
  in_channels: 3,
  latent_channels: tinySd.latentChannels,
  layers_per_block: 1,
  out_channels: 3,
  sample_size: 8 * size.latentSize,
  scaling_factor: 0.18215,
});

const textEncoderConfig = (vocabSize: number, hiddenSize: number) => ({
  architectures: ['CLIPTextModel'],
  hidden_act: 'quick_gelu',
  hidden_size: hiddenSize,
  max_position_embeddings: tinySd.sequenceLength,
  model_type: 'clip_text_model',
  num_hidden_layers: 1,
  vocab_size: vocabSize,
});

type Random = () => number;

/** Graph helpers shared by the four models: weights in the bundle's dtype, computed in float32. */
class TinyGraph {
  readonly g: GraphBuilder;
  private readonly dtype: 'float32' | 'float16';

  constructor(
    name: string,
    private readonly random: Random,
    private readonly fp16: boolean,
  ) {
    this.g = new GraphBuilder(name);
    this.dtype = fp16 ? 'float16' : 'float32';
  }

  /** A float input of the bundle's dtype, as float32 for the computation. */
  floatInput(name: string, dims: (number | string)[]): string {
    return this.toFloat32(this.g.input(name, this.dtype, dims));
  }

  /** A float output of the bundle's dtype from a float32 value. */
  floatOutput(name: string, value: string, dims: (number | string)[]): void {
    this.g.node(this.fp16 ? 'Cast' : 'Identity', [value], this.fp16 ? { to: attr.int(10) } : {}, name);
    this.g.output(name, this.dtype, dims);
  }

  /** Uniform(-scale, scale) weights from the seeded generator, stored in the bundle's dtype. */
  weight(name: string, dims: number[], scale: number): string {
    const values = Array.from(
      { length: dims.reduce((a, b) => a * b, 1) },
      () => (2 * this.random() - 1) * scale,
    );
    const data = this.fp16 ? Uint16Array.from(values, float64ToHalf) : Float32Array.from(values);
    return this.toFloat32(this.g.initializer(name, this.dtype, dims, data));
  }

  constant(name: string, dims: number[], values: number[]): string {
    return this.g.initializer(name, 'int64', dims, BigInt64Array.from(values, BigInt));
  }

  scalar(name: string, value: number): string {
    return this.g.initializer(name, 'float32', [], Float32Array.of(value));
  }

  private toFloat32(value: string): string {
    return this.fp16 ? this.g.node('Cast', [value], { to: attr.int(1) }) : value;
  }
}

function textEncoder(
  random: Random,
  fp16: boolean,
  vocabSize: number,
  idType: 'int32' | 'int64',
  names: DimNames,
  d: number,
): Uint8Array {
  const t = new TinyGraph('tiny_text_encoder', random, fp16);
  const n = tinySd.sequenceLength;
  const ids = t.g.input('input_ids', idType, [names.batch, names.sequence]);
  const tokens = t.g.node('Gather', [t.weight('token_embedding', [vocabSize, d], 1), ids], {
    axis: attr.int(0),
  });
  const hidden = t.g.node('Add', [tokens, t.weight('position_embedding', [n, d], 0.5)]);
  t.floatOutput('last_hidden_state', hidden, [names.batch, names.sequence, d]);
  const first = t.g.initializer('first_position', 'int64', [], BigInt64Array.of(0n));
  const pooled = t.g.node('Gather', [hidden, first], { axis: attr.int(1) });
  t.floatOutput('pooler_output', pooled, [names.batch, d]);
  return t.g.toBytes();
}

function unet(
  random: Random,
  fp16: boolean,
  timestepType: 'int64' | 'float32' | 'float16',
  timestepShape: 'scalar' | 'one' | 'batch',
  names: DimNames,
  d: number,
): Uint8Array {
  const t = new TinyGraph('tiny_unet', random, fp16);
  const { latentChannels: c, unetChannels: k, sequenceLength: n } = tinySd;
  const sample = t.floatInput('sample', [names.batch, c, 'height', 'width']);
  const timestepDims = { scalar: [], one: [1], batch: [names.batch] }[timestepShape];
  const timestep = t.g.input('timestep', timestepType, timestepDims);
  const context = t.floatInput('encoder_hidden_states', [names.batch, names.sequence, d]);
  const pads = { pads: attr.ints([1, 1, 1, 1]) };

  let h = t.g.node(
    'Conv',
    [sample, t.weight('conv_in.weight', [k, c, 3, 3], 1 / 6), t.weight('conv_in.bias', [k], 0.1)],
    pads,
  );
  // Timestep embedding: one learned row per training timestep. Gather gives [k], [1, k] or [B, k] for a scalar,
  // [1] or [B] timestep; as [-1, k, 1, 1] it broadcasts over the batch or adds row by row.
  const index = timestepType === 'int64' ? timestep : t.g.node('Cast', [timestep], { to: attr.int(7) });
  const temb = t.g.node('Gather', [t.weight('time_embedding', [tinySd.trainTimesteps, k], 1), index], {
    axis: attr.int(0),
  });
  h = t.g.node('Add', [h, t.g.node('Reshape', [temb, t.constant('temb_shape', [4], [-1, k, 1, 1])])]);
  // Text conditioning: scale the features by 1 + W ehs, W projecting all 77 x d values, as a 1x1 Conv.
  // (Conv loops over the batch; a MatMul or ReduceMean here changes its summation order with the batch size.)
  const flat = t.g.node('Reshape', [context, t.constant('context_shape', [4], [0, n * d, 1, 1])]);
  const gate4 = t.g.node('Conv', [flat, t.weight('context_proj', [k, n * d, 1, 1], 1 / Math.sqrt(n * d))]);
  h = t.g.node('Mul', [h, t.g.node('Add', [gate4, t.scalar('one', 1)])]);
  h = t.g.node('Mul', [h, t.g.node('Sigmoid', [h])]); // SiLU
  const out = t.g.node(
    'Conv',
    [h, t.weight('conv_out.weight', [c, k, 3, 3], 1 / 12), t.weight('conv_out.bias', [c], 0.1)],
    pads,
  );
  t.floatOutput('out_sample', out, [names.batch, c, 'height', 'width']);
  return t.g.toBytes();
}

function vaeEncoder(
  random: Random,
  fp16: boolean,
  encoder: TinySdEncoder,
  outputName: string,
  names: DimNames,
): Uint8Array {
  const t = new TinyGraph('tiny_vae_encoder', random, fp16);
  const c = tinySd.latentChannels;
  const pixels = t.floatInput('sample', [names.batch, names.channels, 'height', 'width']);
  const parameters = t.g.node(
    'Conv',
    [pixels, t.weight('encoder.weight', [2 * c, 3, 8, 8], 1 / 8), t.weight('encoder.bias', [2 * c], 0.1)],
    { strides: attr.ints([8, 8]) },
  );
  const dims = [names.batch, encoder === 'parameters' ? 2 * c : c, 'height_latent', 'width_latent'];
  if (encoder === 'parameters') {
    t.floatOutput(outputName, parameters, dims);
    return t.g.toBytes();
  }
  const channels = (from: number, to: number) =>
    t.g.node('Slice', [
      parameters,
      t.constant(`start_${from}`, [1], [from]),
      t.constant(`end_${to}`, [1], [to]),
      t.constant(`axis_${from}`, [1], [1]),
    ]);
  const mean = channels(0, c);
  if (encoder === 'mean') {
    t.floatOutput(outputName, mean, dims);
    return t.g.toBytes();
  }
  // DiagonalGaussianDistribution.sample(): mean + std * randn_like(mean), std = exp(logvar / 2).
  const std = t.g.node('Exp', [t.g.node('Mul', [channels(c, 2 * c), t.scalar('half', 0.5)])]);
  const noise = t.g.node('RandomNormalLike', [mean]);
  t.floatOutput(outputName, t.g.node('Add', [mean, t.g.node('Mul', [std, noise])]), dims);
  return t.g.toBytes();
}

function vaeDecoder(random: Random, fp16: boolean, names: DimNames): Uint8Array {
  const t = new TinyGraph('tiny_vae_decoder', random, fp16);
  const c = tinySd.latentChannels;
  const latent = t.floatInput('latent_sample', [names.batch, c, 'height_latent', 'width_latent']);
  const up = t.g.node(
    'ConvTranspose',
    [latent, t.weight('decoder.weight', [c, 3, 8, 8], 0.2), t.weight('decoder.bias', [3], 0.1)],
    { strides: attr.ints([8, 8]) },
  );
  t.floatOutput('sample', t.g.node('Tanh', [up]), [names.batch, 3, 'height', 'width']);
  return t.g.toBytes();
}

/** A small seeded PRNG (mulberry32): the same seed writes the same weights on every machine. */
function mulberry32(seed: number): Random {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = a;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}
