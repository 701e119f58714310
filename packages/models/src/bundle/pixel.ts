/**
 * Pixel-space bundles (the demo model, the analytic Gaussian): one ONNX noise predictor with SD-style I/O
 * (`sample`, `timestep`[, `encoder_hidden_states`] -> `out_sample`). Pixels ARE the latent, so encode and
 * decode are identity maps.
 */
import { join } from 'node:path';
import type { Embedding, Tensor } from '@obelm/engine';
import { DEMO_VOCABULARY, demoItems } from '../demo/dataset.ts';
import { encodeDemoPrompt } from '../demo/prompt.ts';
import { ModelError } from '../runtime/errors.ts';
import { openSession, type RuntimeOptions } from '../runtime/session.ts';
import type { BundleManifest } from './manifest.ts';
import { assertTimestep, type LoadedModel } from './model.ts';

export async function openPixelModel(
  dir: string,
  manifest: BundleManifest,
  opts: RuntimeOptions,
): Promise<LoadedModel> {
  const unetFile = manifest.files.unet;
  if (!unetFile) throw new ModelError('bundle_invalid_manifest', `${dir}: a pixel bundle needs files.unet`);
  const session = await openSession(join(dir, unetFile), opts);
  for (const name of ['sample', 'timestep']) {
    if (!session.inputs.has(name)) {
      await session.release();
      throw new ModelError('bundle_invalid_manifest', `${dir}: ${unetFile} has no '${name}' input`);
    }
  }
  const conditioned = session.inputs.has('encoder_hidden_states');
  const embed = promptEncoder(manifest, opts.logger);
  const latentShape = manifest.latentShape;
  const trainTimesteps = manifest.schedule.trainTimesteps;

  /** Copies pixels/latents after checking they are [B, ...latentShape.slice(1)]. */
  const identity = async (t: Tensor): Promise<Float64Array> => {
    checkBatchShape(t, latentShape);
    return t.data.slice();
  };

  /** One session call on the whole batch (CFG rows arrive batched), one timestep per row. */
  const run = async (x: Tensor, timesteps: Float64Array, emb: Embedding, signal?: AbortSignal) => {
    signal?.throwIfAborted();
    const batch = timesteps.length;
    // The float64 state is rounded to the model's float type exactly once, in runtime/cast.ts.
    const feeds = {
      sample: { dtype: 'float64', dims: x.shape, data: x.data },
      timestep: { dtype: 'float64', dims: [batch], data: timesteps },
    } as const;
    const out = await session.run(
      conditioned ? { ...feeds, encoder_hidden_states: conditioning(emb, batch) } : feeds,
    );
    const eps = out.out_sample;
    if (eps?.dtype !== 'float64') throw new ModelError('model_bad_input', 'the model gave no out_sample');
    return eps.data;
  };

  return {
    id: manifest.id,
    manifest,
    provider: session.provider,
    schedule: manifest.schedule,
    defaults: manifest.defaults,
    latentShape,
    imageSize: manifest.imageSize,
    encode: identity,
    decode: identity,
    embed: async (prompt) => embed(prompt),
    eps: async (x: Tensor, t: number, emb: Embedding, signal?: AbortSignal) => {
      const batch = checkBatchShape(x, latentShape);
      assertTimestep(t, trainTimesteps);
      return run(x, new Float64Array(batch).fill(t), emb, signal);
    },
    // The graph's timestep is [batch]: rows at different timesteps go in one call, each row its own.
    epsRows: async (x: Tensor, t: Float64Array, emb: Embedding, signal?: AbortSignal) => {
      const batch = checkBatchShape(x, latentShape);
      if (t.length !== batch) {
        throw new ModelError('model_bad_input', `${t.length} timesteps for a batch of ${batch}`);
      }
      for (const ti of t) assertTimestep(ti, trainTimesteps);
      return run(x, t, emb, signal);
    },
    close: () => session.release(),
  };
}

function promptEncoder(
  manifest: BundleManifest,
  logger?: (msg: string) => void,
): (prompt: string) => Embedding {
  if (manifest.conditioning === 'demo-labels') {
    // Labels only: the items are the same at every image size, and rendering all 216 images here would
    // cost a worker start hundreds of milliseconds for pixels it never reads.
    const items = demoItems();
    return (prompt) => {
      const encoded = encodeDemoPrompt(prompt, items, DEMO_VOCABULARY);
      if (encoded.unknownWords.length > 0) {
        logger?.(`${manifest.id}: ignoring unknown prompt words: ${encoded.unknownWords.join(', ')}`);
      }
      return encoded.embedding;
    };
  }
  // Unconditional model: every prompt gives the same empty embedding.
  return () => ({ data: new Float32Array(0), shape: [1, 0] });
}

function conditioning(emb: Embedding, batch: number) {
  if (emb.shape[0] !== batch) {
    throw new ModelError(
      'model_bad_input',
      `embedding batch ${emb.shape[0]} does not match sample batch ${batch}`,
    );
  }
  return { dtype: 'float32', dims: emb.shape, data: emb.data } as const;
}

/** Checks t is [B, ...latentShape.slice(1)] with matching data; returns B. */
function checkBatchShape(t: Tensor, latentShape: readonly number[]): number {
  const [batch = 0, ...rest] = t.shape;
  const expected = latentShape.slice(1);
  const size = rest.reduce((a, b) => a * b, 1);
  if (
    batch < 1 ||
    rest.length !== expected.length ||
    rest.some((d, i) => d !== expected[i]) ||
    t.data.length !== batch * size
  ) {
    throw new ModelError(
      'model_bad_input',
      `expected a tensor [B, ${expected.join(', ')}], got [${t.shape.join(', ')}] with ${t.data.length} values`,
    );
  }
  return batch;
}
