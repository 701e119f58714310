import { join } from 'node:path';
import type { Embedding, ModelDefaults, ScheduleConfig, Tensor } from '@obelm/engine';
import { REEXPORT_ADVICE } from '../bundle/determinism.ts';
import type { BundleManifest } from '../bundle/manifest.ts';
import { assertTimestep, type LoadedModel } from '../bundle/model.ts';
import { type EpsFromOutput, epsFromOutput } from '../bundle/prediction.ts';
import { fileExists } from '../files.ts';
import { castForInput, type HostTensor } from '../runtime/cast.ts';
import { ModelError } from '../runtime/errors.ts';
import {
  type ExecutionProvider,
  type ModelSession,
  openSession,
  type RuntimeOptions,
  type TensorInfo,
} from '../runtime/session.ts';
import { type ClipTokenizer, loadClipTokenizer } from '../tokenizer/clip.ts';
import { scalingFactorOf } from './config.ts';

/** The four ONNX models of an export, and the names and shapes they are read and fed by. */
interface SdSessions {
  readonly unet: ModelSession;
  readonly textEncoder: ModelSession;
  readonly vaeDecoder: ModelSession;
  /** Absent in text-to-image-only exports: then `encode` refuses. */
  readonly vaeEncoder?: ModelSession;
  /** The vae_encoder output read: `latent_parameters` (today's optimum) or `latent_sample` (older exports). */
  readonly encoderOutput: EncoderOutput;
  /** How the UNet's `timestep` is shaped (its dtype is read from the session at each call). */
  readonly timestepShape: TimestepShape;
}

/** The vae_encoder outputs obelm reads, in order of preference. */
const ENCODER_OUTPUTS = ['latent_parameters', 'latent_sample'] as const;
type EncoderOutput = (typeof ENCODER_OUTPUTS)[number];

/**
 * A `timestep` of rank 0 is a scalar (today's optimum), rank 1 of fixed size 1 is [1], and any other rank 1
 * ([batch], the older diffusers script) gets one copy per row of the batch.
 */
type TimestepShape = 'scalar' | 'one' | 'batch';

/** Every input each part is fed (a part declaring another input cannot run: it is refused at load). */
const INPUTS: Record<string, readonly string[]> = {
  unet: ['sample', 'timestep', 'encoder_hidden_states'],
  text_encoder: ['input_ids'],
  vae_decoder: ['latent_sample'],
  vae_encoder: ['sample'],
};

/** The output each part is read by (the vae_encoder's is chosen from ENCODER_OUTPUTS). */
const OUTPUTS: Record<string, string> = {
  unet: 'out_sample',
  text_encoder: 'last_hidden_state',
  vae_decoder: 'sample',
};

/**
 * The 'sd' bundle factory: opens a diffusers/optimum ONNX export of SD 1.x/2.x (`unet/`, `text_encoder/`,
 * `vae_decoder/`, optional `vae_encoder/`, `tokenizer/`, each `model.onnx`) described by `manifest`
 * (its obelm.json, or inferSdManifest's). Inputs and outputs are taken by name and dtype from each session's
 * metadata; an export that lacks one, or whose VAE encoder gives two different latents for one image, is
 * refused. Use it through `loadBundle(dir, opts)`, which also refuses random ops in the graphs first.
 */
export async function openSdBundle(
  dir: string,
  manifest: BundleManifest,
  runtime: RuntimeOptions,
): Promise<SdModel> {
  const opened: ModelSession[] = [];
  const open = async (name: string, optional = false): Promise<ModelSession | undefined> => {
    const path = join(dir, name, 'model.onnx');
    if (!(await fileExists(path))) {
      if (optional) return undefined;
      throw new ModelError('bundle_not_found', `SD bundle ${dir} has no ${name}/model.onnx`);
    }
    const session = await openSession(path, runtime);
    opened.push(session);
    checkInputs(name, session);
    const output = OUTPUTS[name];
    if (output !== undefined) requireOutput(name, session, [output]);
    return session;
  };
  try {
    const unet = (await open('unet'))!;
    const textEncoder = (await open('text_encoder'))!;
    const vaeDecoder = (await open('vae_decoder'))!;
    const vaeEncoder = await open('vae_encoder', true);
    checkFixedDims(unet.inputs.get('sample')!.dims, manifest.latentShape, dir);
    checkIdType(textEncoder.inputs.get('input_ids')!);
    const sessions: SdSessions = {
      unet,
      textEncoder,
      vaeDecoder,
      vaeEncoder,
      encoderOutput: vaeEncoder
        ? requireOutput('vae_encoder', vaeEncoder, ENCODER_OUTPUTS)
        : 'latent_parameters',
      timestepShape: timestepShapeOf(unet.inputs.get('timestep')!),
    };
    if (vaeEncoder) await refuseRandomEncoder(dir, manifest, vaeEncoder, sessions.encoderOutput);
    const tokenizer = await loadClipTokenizer(join(dir, 'tokenizer'));
    return new SdModel(manifest, sessions, tokenizer);
  } catch (error) {
    await Promise.all(opened.map((s) => s.release()));
    throw error;
  }
}

function checkInputs(name: string, session: ModelSession): void {
  const expected = INPUTS[name] ?? [];
  const declared = [...session.inputs.keys()];
  const missing = expected.filter((input) => !session.inputs.has(input));
  const extra = declared.filter((input) => !expected.includes(input));
  if (missing.length > 0 || extra.length > 0) {
    throw new ModelError(
      'bundle_invalid_manifest',
      `${name}/model.onnx takes inputs (${declared.join(', ')}); obelm feeds exactly (${expected.join(', ')})`,
    );
  }
}

/** The first of `names` the session outputs; none of them is a refusal naming the outputs found. */
function requireOutput<const T extends string>(name: string, session: ModelSession, names: readonly T[]): T {
  const found = names.find((output) => session.outputs.has(output));
  if (found === undefined) {
    throw new ModelError(
      'bundle_invalid_manifest',
      `${name}/model.onnx has no output ${names.map((n) => `'${n}'`).join(' or ')} ` +
        `(outputs: ${[...session.outputs.keys()].join(', ')})`,
    );
  }
  return found;
}

function checkIdType(info: TensorInfo): void {
  if (info.dtype !== 'int32' && info.dtype !== 'int64') {
    throw new ModelError(
      'bundle_invalid_manifest',
      `text_encoder input_ids is ${info.dtype}; token ids are fed as int32 or int64`,
    );
  }
}

function timestepShapeOf(info: TensorInfo): TimestepShape {
  if (info.dims.length === 0) return 'scalar';
  if (info.dims.length === 1) return info.dims[0] === 1 ? 'one' : 'batch';
  throw new ModelError(
    'bundle_invalid_manifest',
    `unet timestep has shape [${info.dims}]; obelm feeds a scalar, [1] or [batch]`,
  );
}

/**
 * Encodes one fixed image twice and refuses the bundle unless both latents are bitwise equal: a VAE encoder
 * that samples its posterior (with an op the static scan does not know, or a Dropout left in training mode)
 * makes every inversion of an image irreproducible. A small image keeps this cheap on a real VAE: 8 latent
 * pixels a side when the encoder takes any size.
 */
async function refuseRandomEncoder(
  dir: string,
  manifest: BundleManifest,
  encoder: ModelSession,
  output: EncoderOutput,
): Promise<void> {
  const [, , latentHeight, latentWidth] = manifest.latentShape as [number, number, number, number];
  const dims = encoder.inputs.get('sample')!.dims;
  const side = (axis: 2 | 3, image: number, latent: number) => {
    const fixed = dims[axis];
    return typeof fixed === 'number' && fixed > 0 ? fixed : (image / latent) * Math.min(8, latent);
  };
  const shape = [
    1,
    3,
    side(2, manifest.imageSize[0], latentHeight),
    side(3, manifest.imageSize[1], latentWidth),
  ];
  const data = new Float64Array(shape.reduce((a, b) => a * b, 1)).map((_, i) => Math.sin(i * 0.37) * 0.9);
  const encodeOnce = async () => {
    const result = (await encoder.run({ sample: { dtype: 'float64', dims: shape, data } }))[output];
    if (result?.dtype !== 'float64') {
      throw new ModelError('bundle_invalid_manifest', `${dir}: vae_encoder gives no float '${output}'`);
    }
    return Buffer.from(result.data.buffer, result.data.byteOffset, result.data.byteLength);
  };
  const [first, second] = [await encodeOnce(), await encodeOnce()];
  if (!first.equals(second)) {
    throw new ModelError(
      'bundle_invalid_manifest',
      `${dir}: vae_encoder is not deterministic: two encodings of one image differ, so inversions, edits and ` +
        `reconstructions of images are not reproducible. To fix it, ${REEXPORT_ADVICE}.`,
    );
  }
}

/** A UNet exported with fixed sizes must agree with the manifest (symbolic dims accept any size). */
function checkFixedDims(
  dims: readonly (number | string)[],
  latentShape: readonly number[],
  dir: string,
): void {
  dims.forEach((dim, axis) => {
    if (axis > 0 && typeof dim === 'number' && dim > 0 && dim !== latentShape[axis]) {
      throw new ModelError(
        'bundle_invalid_manifest',
        `${dir}: unet sample has fixed dims [${dims}], but the latent shape is [${latentShape}]`,
      );
    }
  });
}

/** Stable Diffusion over onnxruntime: the engine's DiffusionModel. States stay float64 outside the models. */
export class SdModel implements LoadedModel {
  readonly id: string;
  readonly provider: ExecutionProvider;
  readonly schedule: ScheduleConfig;
  readonly defaults: ModelDefaults;
  readonly latentShape: readonly number[];
  readonly imageSize: readonly [number, number];
  readonly scalingFactor: number;
  /** The UNet output -> eps (identity for epsilon models, exact float64 for v-prediction). */
  private readonly epsOf: EpsFromOutput;
  /** Embeddings already cast to the UNet's dtype, by the array they were cast from (see hiddenStates). */
  private readonly castHiddenStates = new WeakMap<Float32Array, HostTensor>();

  constructor(
    readonly manifest: BundleManifest,
    private readonly sessions: SdSessions,
    private readonly tokenizer: ClipTokenizer,
  ) {
    this.id = manifest.id;
    this.provider = sessions.unet.provider;
    this.schedule = manifest.schedule;
    this.defaults = manifest.defaults;
    this.latentShape = manifest.latentShape;
    this.imageSize = manifest.imageSize;
    this.scalingFactor = scalingFactorOf(manifest);
    this.epsOf = epsFromOutput(manifest.prediction ?? 'epsilon', manifest.schedule);
    if (sessions.timestepShape === 'batch') this.epsRows = this.epsOfRows;
  }

  async close(): Promise<void> {
    const { unet, textEncoder, vaeDecoder, vaeEncoder } = this.sessions;
    await Promise.all([unet, textEncoder, vaeDecoder, vaeEncoder].map((s) => s?.release()));
  }

  /**
   * Pixels [B, 3, H, W] -> VAE posterior mean x scaling factor: deterministic, no sampling of the posterior.
   * `latent_parameters` is mean | logvar (2C channels); a `latent_sample` is the mean (C) or mean | logvar (2C).
   */
  async encode(pixels: Tensor, signal?: AbortSignal): Promise<Float64Array> {
    const encoder = this.sessions.vaeEncoder;
    if (!encoder)
      throw new ModelError('bundle_not_found', `SD bundle ${this.id} has no vae_encoder: it cannot encode`);
    const [batch, , height, width] = pixels.shape;
    this.expectShape('pixels', pixels, [batch!, 3, ...this.imageSize]);
    signal?.throwIfAborted();
    const output = this.sessions.encoderOutput;
    const out = await this.runOne('vae_encoder', encoder, { sample: float64(pixels) }, output);
    const [, latentChannels, h, w] = this.latentShape as [number, number, number, number];
    const plane = latentChannels * h * w;
    const perImage = out.data.length / batch!;
    // The mean is the first C channels of mean | logvar.
    const channels =
      output === 'latent_parameters' ? [2 * latentChannels] : [latentChannels, 2 * latentChannels];
    if (!channels.includes(out.dims[1]!)) {
      throw new ModelError(
        'bundle_invalid_manifest',
        `vae_encoder ${output} has ${out.dims[1]} channels, expected ${channels.join(' or ')}`,
      );
    }
    if (out.dims[2] !== h || out.dims[3] !== w) {
      throw new ModelError(
        'bundle_invalid_manifest',
        `vae_encoder gives latents [${out.dims}] for ${height}x${width} pixels`,
      );
    }
    const latent = new Float64Array(batch! * plane);
    for (let b = 0; b < batch!; b++) {
      for (let i = 0; i < plane; i++)
        latent[b * plane + i] = out.data[b * perImage + i]! * this.scalingFactor;
    }
    return latent;
  }

  /** Latent -> latent / scaling factor -> VAE decoder -> pixels clamped to [-1, 1]. */
  async decode(latent: Tensor, signal?: AbortSignal): Promise<Float64Array> {
    this.expectShape('latent', latent, [latent.shape[0]!, ...this.latentShape.slice(1)]);
    signal?.throwIfAborted();
    const scaled = latent.data.map((v) => v / this.scalingFactor);
    const out = await this.runOne(
      'vae_decoder',
      this.sessions.vaeDecoder,
      { latent_sample: float64({ data: scaled, shape: latent.shape }) },
      'sample',
    );
    return out.data.map((v) => Math.min(1, Math.max(-1, v)));
  }

  /** Prompt -> CLIP ids (77) in the declared int32 / int64 -> text encoder's last_hidden_state [1, 77, D]. */
  async embed(prompt: string, signal?: AbortSignal): Promise<Embedding> {
    signal?.throwIfAborted();
    const ids = Int32Array.from(this.tokenizer.encode(prompt));
    const declared = this.sessions.textEncoder.inputs.get('input_ids')!.dtype;
    const inputIds = castForInput(
      'input_ids',
      { dtype: 'int32', dims: [1, ids.length], data: ids },
      declared,
    );
    const out = await this.runOne(
      'text_encoder',
      this.sessions.textEncoder,
      { input_ids: inputIds },
      'last_hidden_state',
    );
    return { data: Float32Array.from(out.data), shape: out.dims };
  }

  /**
   * eps_theta(x, t | emb) on the whole batch in one UNet call. The float64 state is rounded to the UNet's float
   * type exactly once (runtime/cast.ts), so equal states give bitwise-equal eps. The timestep is fed in the shape
   * (scalar, [1] or [batch]) and dtype (int64, float32, float16) the export declares. A v-prediction output is
   * turned into eps in float64 against the float64 state, so eps stays a function of (x, t) (bundle/prediction.ts).
   */
  readonly eps = async (
    x: Tensor,
    t: number,
    emb: Embedding,
    signal?: AbortSignal,
  ): Promise<Float64Array> => {
    const batch = this.checkEpsInputs(x, emb);
    assertTimestep(t, this.schedule.trainTimesteps);
    const count = this.sessions.timestepShape === 'batch' ? batch : 1;
    const out = await this.runUnet(x, new Float64Array(count).fill(t), emb, signal);
    return this.epsOf(out, x.data, t);
  };

  /**
   * eps with one timestep per row, in one UNet call: only where the UNet's `timestep` is [batch] (the older
   * diffusers script's export); a scalar or [1] timestep takes one t per call, so there it is undefined. The
   * v-prediction conversion runs row by row at each row's t (element-wise, so bitwise what `eps` gives).
   */
  readonly epsRows?: (
    x: Tensor,
    t: Float64Array,
    emb: Embedding,
    signal?: AbortSignal,
  ) => Promise<Float64Array>;

  /** Checks x is [B, ...latent] with an embedding of B rows; returns B. */
  private checkEpsInputs(x: Tensor, emb: Embedding): number {
    const batch = x.shape[0]!;
    this.expectShape('x', x, [batch, ...this.latentShape.slice(1)]);
    if (emb.shape[0] !== batch) {
      throw new ModelError(
        'model_bad_input',
        `embedding batch ${emb.shape[0]} does not match latent batch ${batch}`,
      );
    }
    return batch;
  }

  private readonly epsOfRows = async (
    x: Tensor,
    t: Float64Array,
    emb: Embedding,
    signal?: AbortSignal,
  ): Promise<Float64Array> => {
    const batch = this.checkEpsInputs(x, emb);
    if (t.length !== batch) {
      throw new ModelError('model_bad_input', `${t.length} timesteps for a latent batch of ${batch}`);
    }
    for (const ti of t) assertTimestep(ti, this.schedule.trainTimesteps);
    const out = await this.runUnet(x, t, emb, signal);
    const size = x.data.length / batch;
    const eps = new Float64Array(x.data.length);
    for (let row = 0; row < batch; row++) {
      const [from, to] = [row * size, (row + 1) * size];
      eps.set(this.epsOf(out.subarray(from, to), x.data.subarray(from, to), t[row]!), from);
    }
    return eps;
  };

  /** One UNet call; `timesteps` has the count the export's timestep takes (1, or one per row for [batch]). */
  private async runUnet(
    x: Tensor,
    timesteps: Float64Array,
    emb: Embedding,
    signal?: AbortSignal,
  ): Promise<Float64Array> {
    signal?.throwIfAborted();
    const declared = this.sessions.unet.inputs.get('timestep')!;
    const dims = this.sessions.timestepShape === 'scalar' ? [] : [timesteps.length];
    // castForInput turns the float64 values into the declared int64 / float32 / float16 (t is an integer < 2048,
    // exact in float16).
    const timestep = castForInput('timestep', { dtype: 'float64', dims, data: timesteps }, declared.dtype);
    const out = await this.runOne(
      'unet',
      this.sessions.unet,
      {
        sample: float64(x),
        timestep,
        encoder_hidden_states: this.hiddenStates(emb),
      },
      'out_sample',
    );
    return out.data;
  }

  /**
   * The embedding in the UNet's dtype. Converting 2 x 77 x 768 values (16 rows in a worker's merged call) to
   * float16 costs tens of ms in JS, and a job's calls bring the same embedding array at every step (engine cfg.ts
   * keeps its rows per batch size; a worker's batcher reuses a cohort's merged rows: mergedEmbeddings.ts), so each
   * array is converted once. Embeddings are only read, never changed in place, so the array identifies its content;
   * two cohorts taking turns each find theirs.
   */
  private hiddenStates(emb: Embedding): HostTensor {
    const source: HostTensor = { dtype: 'float32', dims: emb.shape, data: emb.data };
    const dtype = this.sessions.unet.inputs.get('encoder_hidden_states')!.dtype;
    if (dtype === 'float32') return source;
    let cast = this.castHiddenStates.get(emb.data);
    if (!cast || cast.dims.join() !== emb.shape.join()) {
      cast = castForInput('encoder_hidden_states', source, dtype);
      this.castHiddenStates.set(emb.data, cast);
    }
    return cast;
  }

  /** Runs one part and reads its output by name (checked at load), widened to float64. */
  private async runOne(
    part: string,
    session: ModelSession,
    feeds: Record<string, HostTensor>,
    output: string,
  ): Promise<{ data: Float64Array; dims: readonly number[] }> {
    const result = (await session.run(feeds))[output];
    if (result?.dtype !== 'float64') {
      throw new ModelError('bundle_invalid_manifest', `${part} gave no float output '${output}'`);
    }
    return { data: result.data, dims: result.dims };
  }

  private expectShape(what: string, tensor: Tensor, shape: readonly number[]): void {
    const expected = shape.reduce((a, b) => a * b, 1);
    if (tensor.shape.join() !== shape.join() || tensor.data.length !== expected) {
      throw new ModelError(
        'model_bad_input',
        `${what} has shape [${tensor.shape}] (${tensor.data.length} values); ${this.id} needs [${shape}]`,
      );
    }
  }
}

function float64(tensor: Tensor): HostTensor {
  return { dtype: 'float64', dims: tensor.shape, data: tensor.data };
}
