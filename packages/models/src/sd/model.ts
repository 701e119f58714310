import { join } from 'node:path';
import type { Embedding, ModelDefaults, ScheduleConfig, Tensor } from '@obelm/engine';
import type { BundleManifest } from '../bundle/manifest.ts';
import { assertTimestep, type LoadedModel } from '../bundle/model.ts';
import { fileExists } from '../files.ts';
import { castForInput, type HostTensor } from '../runtime/cast.ts';
import { ModelError } from '../runtime/errors.ts';
import {
  type ExecutionProvider,
  type ModelSession,
  openSession,
  type RuntimeOptions,
} from '../runtime/session.ts';
import { type ClipTokenizer, loadClipTokenizer } from '../tokenizer/clip.ts';
import { scalingFactorOf } from './config.ts';

/** The four ONNX models of an export, with the tensor names optimum/diffusers give them. */
interface SdSessions {
  readonly unet: ModelSession;
  readonly textEncoder: ModelSession;
  readonly vaeDecoder: ModelSession;
  /** Absent in text-to-image-only exports: then `encode` refuses. */
  readonly vaeEncoder?: ModelSession;
}

const required: Record<string, readonly string[]> = {
  unet: ['sample', 'timestep', 'encoder_hidden_states'],
  text_encoder: ['input_ids'],
  vae_decoder: ['latent_sample'],
  vae_encoder: ['sample'],
};

/**
 * The 'sd' bundle factory: opens a diffusers/optimum ONNX export of SD 1.x/2.x (`unet/`, `text_encoder/`,
 * `vae_decoder/`, optional `vae_encoder/`, `tokenizer/`, each `model.onnx`) described by `manifest`
 * (its obelm.json, or inferSdManifest's). Use it through `loadBundle(dir, opts)`.
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
    for (const input of required[name] ?? []) {
      if (!session.inputs.has(input)) {
        throw new ModelError(
          'bundle_invalid_manifest',
          `${name}/model.onnx has no input '${input}' (inputs: ${[...session.inputs.keys()].join(', ')})`,
        );
      }
    }
    return session;
  };
  try {
    const sessions: SdSessions = {
      unet: (await open('unet'))!,
      textEncoder: (await open('text_encoder'))!,
      vaeDecoder: (await open('vae_decoder'))!,
      vaeEncoder: await open('vae_encoder', true),
    };
    checkFixedDims(sessions.unet.inputs.get('sample')!.dims, manifest.latentShape, dir);
    const tokenizer = await loadClipTokenizer(join(dir, 'tokenizer'));
    return new SdModel(manifest, sessions, tokenizer);
  } catch (error) {
    await Promise.all(opened.map((s) => s.release()));
    throw error;
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
  private lastHiddenStates?: { readonly source: Float32Array; readonly cast: HostTensor };

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
  }

  async close(): Promise<void> {
    const { unet, textEncoder, vaeDecoder, vaeEncoder } = this.sessions;
    await Promise.all([unet, textEncoder, vaeDecoder, vaeEncoder].map((s) => s?.release()));
  }

  /** Pixels [B, 3, H, W] -> VAE posterior mean x scaling factor: deterministic, no sampling of the posterior. */
  async encode(pixels: Tensor, signal?: AbortSignal): Promise<Float64Array> {
    const encoder = this.sessions.vaeEncoder;
    if (!encoder)
      throw new ModelError('bundle_not_found', `SD bundle ${this.id} has no vae_encoder: it cannot encode`);
    const [batch, , height, width] = pixels.shape;
    this.expectShape('pixels', pixels, [batch!, 3, ...this.imageSize]);
    signal?.throwIfAborted();
    const out = await this.runOne(encoder, { sample: float64(pixels) }, 'latent_sample');
    const [, latentChannels, h, w] = this.latentShape as [number, number, number, number];
    const plane = latentChannels * h * w;
    const perImage = out.data.length / batch!;
    // Exports either give 4 channels (the mean) or 8 (mean | logvar): the mean is the first half.
    if (out.dims[1] !== latentChannels && out.dims[1] !== 2 * latentChannels) {
      throw new ModelError(
        'bundle_invalid_manifest',
        `vae_encoder gives ${out.dims[1]} channels, expected ${latentChannels} or ${2 * latentChannels}`,
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
      this.sessions.vaeDecoder,
      { latent_sample: float64({ data: scaled, shape: latent.shape }) },
      'sample',
    );
    return out.data.map((v) => Math.min(1, Math.max(-1, v)));
  }

  /** Prompt -> CLIP ids (77) -> text encoder's last_hidden_state [1, 77, D]. */
  async embed(prompt: string, signal?: AbortSignal): Promise<Embedding> {
    signal?.throwIfAborted();
    const ids = Int32Array.from(this.tokenizer.encode(prompt));
    const out = await this.runOne(
      this.sessions.textEncoder,
      { input_ids: { dtype: 'int32', dims: [1, ids.length], data: ids } },
      'last_hidden_state',
    );
    return { data: Float32Array.from(out.data), shape: out.dims };
  }

  /**
   * eps_theta(x, t | emb) on the whole batch in one UNet call. The float64 state is rounded to the UNet's float
   * type exactly once (runtime/cast.ts), so equal states give bitwise-equal eps. The timestep is fed as [1] in the
   * dtype the export declares (int64 or float32), as diffusers' ONNX pipeline does.
   */
  readonly eps = async (
    x: Tensor,
    t: number,
    emb: Embedding,
    signal?: AbortSignal,
  ): Promise<Float64Array> => {
    const batch = x.shape[0]!;
    this.expectShape('x', x, [batch, ...this.latentShape.slice(1)]);
    if (emb.shape[0] !== batch) {
      throw new ModelError(
        'model_bad_input',
        `embedding batch ${emb.shape[0]} does not match latent batch ${batch}`,
      );
    }
    assertTimestep(t, this.schedule.trainTimesteps);
    signal?.throwIfAborted();
    const declared = this.sessions.unet.inputs.get('timestep')!;
    const dims = declared.dims.length === 0 ? [] : [1]; // a few exports take a scalar timestep
    // castForInput turns the float64 value into the declared int64 / float32 / float16 (t is an integer).
    const timestep = castForInput(
      'timestep',
      { dtype: 'float64', dims, data: Float64Array.of(t) },
      declared.dtype,
    );
    const out = await this.runOne(
      this.sessions.unet,
      {
        sample: float64(x),
        timestep,
        encoder_hidden_states: this.hiddenStates(emb),
      },
      'out_sample',
    );
    return out.data;
  };

  /**
   * The embedding in the UNet's dtype. CFG restacks the same rows on every step, and converting 2 x 77 x 768
   * values to float16 costs tens of ms in JS, so the last conversion is reused while the content is unchanged.
   */
  private hiddenStates(emb: Embedding): HostTensor {
    const source: HostTensor = { dtype: 'float32', dims: emb.shape, data: emb.data };
    const dtype = this.sessions.unet.inputs.get('encoder_hidden_states')!.dtype;
    if (dtype === 'float32') return source;
    const last = this.lastHiddenStates;
    if (
      last &&
      last.source.length === emb.data.length &&
      last.source.every((v, i) => Object.is(v, emb.data[i]))
    ) {
      return last.cast;
    }
    const cast = castForInput('encoder_hidden_states', source, dtype);
    this.lastHiddenStates = { source: emb.data.slice(), cast };
    return cast;
  }

  private async runOne(
    session: ModelSession,
    feeds: Record<string, HostTensor>,
    output: string,
  ): Promise<{ data: Float64Array; dims: readonly number[] }> {
    const results = await session.run(feeds);
    const result = results[output] ?? Object.values(results)[0];
    if (result?.dtype !== 'float64') {
      throw new ModelError('bundle_invalid_manifest', `model gave no float output '${output}'`);
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
