/**
 * A tiny random-weight Stable Diffusion bundle in the diffusers/optimum ONNX layout, for tests: the same folder
 * names, graph input/output names and dtypes as a real export, at 64x64 pixels / [1, 4, 8, 8] latents.
 *
 *   text_encoder: input_ids [B, 77] -> Gather(token table) + position table -> last_hidden_state [B, 77, 32]
 *   unet:         sample [B, 4, 8, 8], timestep [1], encoder_hidden_states [B, 77, 32] -> out_sample
 *                 Conv3x3 -> + Gather(timestep table) -> * (1 + W ehs) -> SiLU -> Conv3x3
 *   vae_encoder:  sample [B, 3, 64, 64] -> Conv 8x8 stride 8 -> latent_sample [B, 8 (mean|logvar) or 4, 8, 8]
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

export interface TinySdOptions {
  /** float16 model inputs, outputs and weights (default false: float32). */
  readonly fp16?: boolean;
  /** dtype of the UNet's `timestep` input (default 'int64'). */
  readonly timestep?: 'int64' | 'float32';
  /** dtype of the text encoder's `input_ids` (default 'int32', as optimum exports it). */
  readonly inputIds?: 'int32' | 'int64';
  /** The VAE encoder outputs the posterior parameters (mean | logvar, 8 channels) instead of 4 (default true). */
  readonly posterior?: boolean;
  readonly seed?: number;
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

/** Writes the bundle folder; without `manifest` it has no obelm.json, like a plain optimum export. */
export async function writeTinySdBundle(dir: string, options: TinySdOptions = {}): Promise<void> {
  const random = mulberry32(options.seed ?? 1234);
  const fp16 = options.fp16 ?? false;
  await writeTinyClipTokenizer(join(dir, 'tokenizer'));
  const vocabSize = Object.keys(
    JSON.parse(await readFile(join(dir, 'tokenizer', 'vocab.json'), 'utf8')),
  ).length;

  const models: Record<string, Uint8Array> = {
    text_encoder: textEncoder(random, fp16, vocabSize, options.inputIds ?? 'int32'),
    unet: unet(random, fp16, options.timestep ?? 'int64'),
    vae_encoder: vaeEncoder(random, fp16, options.posterior ?? true),
    vae_decoder: vaeDecoder(random, fp16),
  };
  for (const [name, bytes] of Object.entries(models)) {
    await mkdir(join(dir, name), { recursive: true });
    await writeFile(join(dir, name, 'model.onnx'), bytes);
  }
  // The diffusers configs an optimum export carries next to the models.
  const json = (path: string, value: unknown) => writeFile(join(dir, path), JSON.stringify(value, null, 2));
  await json('model_index.json', { _class_name: 'ORTStableDiffusionPipeline', _diffusers_version: '0.30.0' });
  await json('unet/config.json', { in_channels: 4, out_channels: 4, sample_size: tinySd.latentSize });
  await json('vae_decoder/config.json', {
    latent_channels: 4,
    sample_size: tinySd.imageSize,
    scaling_factor: 0.18215,
    block_out_channels: [8, 8, 8, 8], // 3 downsamplings: 64 px -> 8 latent
  });
  await mkdir(join(dir, 'scheduler'), { recursive: true });
  await json('scheduler/scheduler_config.json', {
    _class_name: 'PNDMScheduler',
    beta_schedule: 'scaled_linear',
    beta_start: 0.00085,
    beta_end: 0.012,
    num_train_timesteps: 1000,
    prediction_type: 'epsilon',
    steps_offset: 1,
  });
  if (options.manifest) {
    const manifest: BundleManifest = {
      ...(await inferSdManifest(dir)),
      id: 'tiny-sd',
      description: 'tiny random-weight SD-layout test bundle',
    };
    await json(MANIFEST_FILE, manifest);
  }
}

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

  private toFloat32(value: string): string {
    return this.fp16 ? this.g.node('Cast', [value], { to: attr.int(1) }) : value;
  }
}

function textEncoder(
  random: Random,
  fp16: boolean,
  vocabSize: number,
  idType: 'int32' | 'int64',
): Uint8Array {
  const t = new TinyGraph('tiny_text_encoder', random, fp16);
  const { hiddenSize: d, sequenceLength: n } = tinySd;
  const ids = t.g.input('input_ids', idType, ['batch_size', 'sequence_length']);
  const tokens = t.g.node('Gather', [t.weight('token_embedding', [vocabSize, d], 1), ids], {
    axis: attr.int(0),
  });
  const hidden = t.g.node('Add', [tokens, t.weight('position_embedding', [n, d], 0.5)]);
  t.floatOutput('last_hidden_state', hidden, ['batch_size', 'sequence_length', d]);
  return t.g.toBytes();
}

function unet(random: Random, fp16: boolean, timestepType: 'int64' | 'float32'): Uint8Array {
  const t = new TinyGraph('tiny_unet', random, fp16);
  const { latentChannels: c, unetChannels: k, hiddenSize: d, sequenceLength: n } = tinySd;
  const sample = t.floatInput('sample', ['batch_size', c, 'height', 'width']);
  const timestep = t.g.input('timestep', timestepType, ['steps']);
  const context = t.floatInput('encoder_hidden_states', ['batch_size', 'sequence_length', d]);
  const pads = { pads: attr.ints([1, 1, 1, 1]) };

  let h = t.g.node(
    'Conv',
    [sample, t.weight('conv_in.weight', [k, c, 3, 3], 1 / 6), t.weight('conv_in.bias', [k], 0.1)],
    pads,
  );
  // Timestep embedding: one learned row per training timestep, broadcast over the batch.
  const index = timestepType === 'int64' ? timestep : t.g.node('Cast', [timestep], { to: attr.int(7) });
  const temb = t.g.node('Gather', [t.weight('time_embedding', [tinySd.trainTimesteps, k], 1), index], {
    axis: attr.int(0),
  });
  h = t.g.node('Add', [h, t.g.node('Reshape', [temb, t.constant('temb_shape', [4], [1, k, 1, 1])])]);
  // Text conditioning: scale the features by 1 + W ehs, W projecting all 77 x 32 values, as a 1x1 Conv.
  // (Conv loops over the batch; a MatMul or ReduceMean here changes its summation order with the batch size.)
  const flat = t.g.node('Reshape', [context, t.constant('context_shape', [4], [0, n * d, 1, 1])]);
  const gate4 = t.g.node('Conv', [flat, t.weight('context_proj', [k, n * d, 1, 1], 1 / Math.sqrt(n * d))]);
  h = t.g.node('Mul', [
    h,
    t.g.node('Add', [gate4, t.g.initializer('one', 'float32', [], Float32Array.of(1))]),
  ]);
  h = t.g.node('Mul', [h, t.g.node('Sigmoid', [h])]); // SiLU
  const out = t.g.node(
    'Conv',
    [h, t.weight('conv_out.weight', [c, k, 3, 3], 1 / 12), t.weight('conv_out.bias', [c], 0.1)],
    pads,
  );
  t.floatOutput('out_sample', out, ['batch_size', c, 'height', 'width']);
  return t.g.toBytes();
}

function vaeEncoder(random: Random, fp16: boolean, posterior: boolean): Uint8Array {
  const t = new TinyGraph('tiny_vae_encoder', random, fp16);
  const outChannels = posterior ? 2 * tinySd.latentChannels : tinySd.latentChannels;
  const pixels = t.floatInput('sample', ['batch_size', 3, 'height', 'width']);
  const latent = t.g.node(
    'Conv',
    [
      pixels,
      t.weight('encoder.weight', [outChannels, 3, 8, 8], 1 / 8),
      t.weight('encoder.bias', [outChannels], 0.1),
    ],
    { strides: attr.ints([8, 8]) },
  );
  t.floatOutput('latent_sample', latent, ['batch_size', outChannels, 'height_latent', 'width_latent']);
  return t.g.toBytes();
}

function vaeDecoder(random: Random, fp16: boolean): Uint8Array {
  const t = new TinyGraph('tiny_vae_decoder', random, fp16);
  const c = tinySd.latentChannels;
  const latent = t.floatInput('latent_sample', ['batch_size', c, 'height_latent', 'width_latent']);
  const up = t.g.node(
    'ConvTranspose',
    [latent, t.weight('decoder.weight', [c, 3, 8, 8], 0.2), t.weight('decoder.bias', [3], 0.1)],
    { strides: attr.ints([8, 8]) },
  );
  t.floatOutput('sample', t.g.node('Tanh', [up]), ['batch_size', 3, 'height', 'width']);
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
