import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Embedding, Tensor } from '@obelm/engine';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadBundle } from '../src/bundle/load.ts';
import { ModelError } from '../src/runtime/errors.ts';
import { inferSdManifest, openSdBundle, type SdModel } from '../src/sd/index.ts';
import {
  attr,
  GraphBuilder,
  type TinySdOptions,
  writeTinySdBundle,
  writeTinySdExport,
} from '../src/testing.ts';

const runtime = { provider: 'cpu', threads: 1 } as const;
const root = mkdtempSync(join(tmpdir(), 'obelm-sd-'));
const bundles = {
  fp32Int64: { fp16: false, timestep: 'int64' },
  fp32Float: { fp16: false, timestep: 'float32', timestepShape: 'batch', inputIds: 'int32', encoder: 'mean' },
  fp16Int64: { fp16: true, timestep: 'int64' },
  fp16Float: { fp16: true, timestep: 'float32', timestepShape: 'one', encoderOutput: 'latent_sample' },
  // The older diffusers script with --fp16: a float16 timestep of shape [batch].
  fp16Half: { fp16: true, timestep: 'float16', timestepShape: 'batch', inputIds: 'int32', encoder: 'mean' },
} as const satisfies Record<string, TinySdOptions>;
const models: Record<string, SdModel> = {};

beforeAll(async () => {
  for (const [name, options] of Object.entries(bundles)) {
    await writeTinySdBundle(join(root, name), options);
    models[name] = (await loadBundle(join(root, name), runtime)) as SdModel;
  }
});

function latent(batch: number, seed: number): Tensor {
  const data = new Float64Array(batch * 256);
  for (let i = 0; i < data.length; i++) data[i] = Math.sin(seed * 7919 + i * 0.37) * 1.3;
  return { data, shape: [batch, 4, 8, 8] };
}

function stack(embeddings: Embedding[]): Embedding {
  const data = new Float32Array(embeddings.reduce((n, e) => n + e.data.length, 0));
  let offset = 0;
  for (const e of embeddings) {
    data.set(e.data, offset);
    offset += e.data.length;
  }
  return { data, shape: [embeddings.length, ...embeddings[0]!.shape.slice(1)] };
}

function hex(data: Float64Array): string {
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('hex');
}

describe('SD bundle (tiny, optimum layout without obelm.json)', () => {
  it('infers the SD-1.5 config from the export', () => {
    const model = models['fp32Int64']!;
    expect(model.id).toBe('fp32int64'); // the folder name as a slug
    expect(model.latentShape).toEqual([1, 4, 8, 8]);
    expect(model.imageSize).toEqual([64, 64]);
    expect(model.scalingFactor).toBe(0.18215);
    // SD 1.5's scheduler_config.json: steps_offset 1, set_alpha_to_one false.
    expect(model.schedule).toMatchObject({
      betaSchedule: 'scaled_linear',
      stepsOffset: 1,
      finalAbar: 'first',
    });
    expect(model.manifest.prediction ?? 'epsilon').toBe('epsilon');
    expect(model.defaults).toMatchObject({ steps: 50, guidance: 3 });
  });

  it('loads through obelm.json too, and closes its sessions', async () => {
    const dir = join(root, 'withManifest');
    await writeTinySdBundle(dir, { manifest: true });
    const model = await loadBundle(dir, runtime);
    expect(model.id).toBe('tiny-sd');
    expect(model.manifest.kind).toBe('sd');
    expect(model.latentShape).toEqual([1, 4, 8, 8]);
    expect((await model.embed('a cat')).shape).toEqual([1, 77, 32]);
    await model.close();
  });

  it('encodes to the scaled posterior mean and decodes to pixels in [-1, 1], for fp32 and fp16', async () => {
    const pixels = {
      data: new Float64Array(2 * 3 * 64 * 64).map((_, i) => Math.cos(i) * 0.9),
      shape: [2, 3, 64, 64],
    };
    for (const model of Object.values(models)) {
      const z = await model.encode(pixels);
      expect(z.length).toBe(2 * 256);
      expect(z.every(Number.isFinite)).toBe(true);
      const image = await model.decode({ data: z, shape: [2, 4, 8, 8] });
      expect(image.length).toBe(2 * 3 * 64 * 64);
      expect(image.every((v) => v >= -1 && v <= 1)).toBe(true);
    }
    // Deterministic: no posterior sampling.
    const model = models['fp32Int64']!;
    expect(hex(await model.encode(pixels))).toBe(hex(await model.encode(pixels)));
  });

  it('embeds a prompt as [1, 77, hidden] through the tokenizer and text encoder', async () => {
    for (const model of Object.values(models)) {
      const cat = await model.embed('a photo of a cat');
      expect(cat.shape).toEqual([1, 77, 32]);
      const dog = await model.embed('a photo of a dog');
      expect(Array.from(dog.data)).not.toEqual(Array.from(cat.data));
    }
  });

  it('takes the hidden width and latent side a real-size UNet needs: embeddings, latents and pixels follow', async () => {
    const dir = join(root, 'wide');
    await writeTinySdBundle(dir, { hiddenSize: 48, latentSize: 16 });
    const model = await loadBundle(dir, runtime);
    try {
      expect(model.latentShape).toEqual([1, 4, 16, 16]);
      expect(model.imageSize).toEqual([128, 128]);
      const emb = await model.embed('a photo of a cat');
      expect(emb.shape).toEqual([1, 77, 48]);
      const x = { data: new Float64Array(4 * 16 * 16).fill(0.5), shape: [1, 4, 16, 16] };
      expect((await model.eps(x, 500, emb)).length).toBe(4 * 16 * 16);
    } finally {
      await model.close();
    }
  });

  it('gives deterministic, bitwise batch-consistent eps', async () => {
    for (const model of Object.values(models)) {
      const [uncond, cond] = [await model.embed(''), await model.embed('a red circle')];
      const x = latent(2, 1);
      const both = await model.eps(x, 500, stack([uncond, cond]));
      expect(both.length).toBe(512);
      expect(hex(await model.eps(x, 500, stack([uncond, cond])))).toBe(hex(both));
      const first = await model.eps({ data: x.data.slice(0, 256), shape: [1, 4, 8, 8] }, 500, uncond);
      const second = await model.eps({ data: x.data.slice(256), shape: [1, 4, 8, 8] }, 500, cond);
      expect(hex(first)).toBe(hex(both.subarray(0, 256)));
      expect(hex(second)).toBe(hex(both.subarray(256)));
      // It depends on the timestep and on the prompt.
      expect(hex(await model.eps(x, 499, stack([uncond, cond])))).not.toBe(hex(both));
      expect(hex(second)).not.toBe(
        hex(await model.eps({ data: x.data.slice(256), shape: [1, 4, 8, 8] }, 500, uncond)),
      );
    }
  });

  it('feeds every timestep signature alike: int64, float32, float16 as a scalar, [1] or [batch]', async () => {
    const x = latent(2, 3);
    const a = models['fp32Int64']!;
    const emb = stack([await a.embed(''), await a.embed('a blue star')]);
    const viaScalar = await a.eps(x, 981, emb);
    // Same seed, same weights: only the UNet's timestep input differs between these bundles.
    const variants: TinySdOptions[] = [
      { timestep: 'int64', timestepShape: 'one' },
      { timestep: 'int64', timestepShape: 'batch' },
      { timestep: 'float32', timestepShape: 'batch' },
      { timestep: 'float16', timestepShape: 'scalar' },
      { timestep: 'float16', timestepShape: 'batch' },
    ];
    for (const [i, options] of variants.entries()) {
      const dir = join(root, `timestep-${i}`);
      await writeTinySdBundle(dir, options);
      const b = await loadBundle(dir, runtime);
      const bEmb = stack([await b.embed(''), await b.embed('a blue star')]);
      expect(hex(await b.eps(x, 981, bEmb)), JSON.stringify(options)).toBe(hex(viaScalar));
      await b.close();
    }
    const half = models['fp16Half']!;
    const viaHalf = await half.eps(x, 981, stack([await half.embed(''), await half.embed('a blue star')]));
    let worst = 0;
    for (let i = 0; i < viaHalf.length; i++) worst = Math.max(worst, Math.abs(viaHalf[i]! - viaScalar[i]!));
    expect(worst).toBeGreaterThan(0); // really computed in half precision at the boundary
    expect(worst).toBeLessThan(0.05);
  });

  it('reads the mean of latent_parameters and of a 2C latent_sample, and a C-channel latent_sample as it is', async () => {
    const pixels = {
      data: new Float64Array(3 * 64 * 64).map((_, i) => Math.sin(i * 0.01)),
      shape: [1, 3, 64, 64],
    };
    // fp32Int64: latent_parameters (8); fp32Float: latent_sample (4, the mean); same seed, same encoder weights.
    const fromParameters = await models['fp32Int64']!.encode(pixels);
    expect(hex(await models['fp32Float']!.encode(pixels))).toBe(hex(fromParameters));
    const dir = join(root, 'latentSample2C');
    await writeTinySdBundle(dir, { encoderOutput: 'latent_sample' });
    const model = await loadBundle(dir, runtime);
    expect(hex(await model.encode(pixels))).toBe(hex(fromParameters));
    await model.close();
  });

  it('refuses malformed inputs and incomplete bundles with typed errors', async () => {
    const model = models['fp32Int64']!;
    const code = (e: unknown) => (e instanceof ModelError ? e.code : String(e));
    expect(
      code(
        await model
          .eps(latent(1, 1), 1, stack([await model.embed(''), await model.embed('')]))
          .catch((e) => e),
      ),
    ).toBe('model_bad_input');
    expect(
      code(await model.decode({ data: new Float64Array(16), shape: [1, 4, 2, 2] }).catch((e) => e)),
    ).toBe('model_bad_input');
    const broken = join(root, 'broken');
    await writeTinySdBundle(broken);
    await rm(join(broken, 'unet'), { recursive: true });
    expect(code(await loadBundle(broken, runtime).catch((e) => e))).toBe('bundle_not_found');

    const xPrediction = join(root, 'xPrediction');
    await writeTinySdBundle(xPrediction);
    const schedulerPath = join(xPrediction, 'scheduler', 'scheduler_config.json');
    const scheduler = JSON.parse(readFileSync(schedulerPath, 'utf8'));
    writeFileSync(schedulerPath, JSON.stringify({ ...scheduler, prediction_type: 'sample' }));
    expect(code(await loadBundle(xPrediction, runtime).catch((e) => e))).toBe('bundle_invalid_manifest');
  });
});

/** A vae_encoder graph of the tiny bundle's shapes, with any output name, optionally with a training-mode Dropout. */
function encoderGraph(output: string, dropout = false): Uint8Array {
  const g = new GraphBuilder('encoder');
  const pixels = g.input('sample', 'float32', ['batch_size', 3, 'height', 'width']);
  const weight = g.initializer(
    'weight',
    'float32',
    [8, 3, 8, 8],
    new Float32Array(8 * 3 * 64).map((_, i) => Math.sin(i) / 8),
  );
  let latent = g.node('Conv', [pixels, weight], { strides: attr.ints([8, 8]) });
  if (dropout) {
    // Dropout is deterministic unless its training_mode input is true: then it drops a random half.
    const training = g.node('Cast', [g.initializer('on', 'int64', [], BigInt64Array.of(1n))], {
      to: attr.int(9),
    });
    latent = g.node('Dropout', [
      latent,
      g.initializer('ratio', 'float32', [], Float32Array.of(0.5)),
      training,
    ]);
  }
  g.node('Identity', [latent], {}, output);
  g.output(output, 'float32', ['batch_size', 8, 'height_latent', 'width_latent']);
  return g.toBytes();
}

describe('SD bundle signatures and refusals', () => {
  const refusal = async (dir: string) => {
    const error = await loadBundle(dir, runtime).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ModelError);
    expect((error as ModelError).code).toBe('bundle_invalid_manifest');
    return (error as ModelError).message;
  };

  it('takes outputs by name: an encoder without latent_parameters or latent_sample is refused, naming what it has', async () => {
    const dir = join(root, 'latentDist');
    await writeTinySdBundle(dir);
    await writeFile(join(dir, 'vae_encoder', 'model.onnx'), encoderGraph('latent_dist'));
    expect(await refusal(dir)).toMatch(
      /vae_encoder.*'latent_parameters' or 'latent_sample'.*outputs: latent_dist/,
    );
  });

  it('refuses a UNet or text encoder whose signature obelm cannot feed or read', async () => {
    const dir = join(root, 'unetOutput');
    await writeTinySdBundle(dir);
    const g = new GraphBuilder('unet');
    g.node('Identity', [g.input('sample', 'float32', ['b', 4, 8, 8])], {}, 'noise_pred');
    g.input('timestep', 'int64', []);
    g.input('encoder_hidden_states', 'float32', ['b', 77, 32]);
    g.output('noise_pred', 'float32', ['b', 4, 8, 8]);
    await writeFile(join(dir, 'unet', 'model.onnx'), g.toBytes());
    expect(await refusal(dir)).toMatch(/unet.*no output 'out_sample'.*outputs: noise_pred/);

    const masked = join(root, 'attentionMask');
    await writeTinySdBundle(masked);
    const t = new GraphBuilder('text_encoder');
    const ids = t.input('input_ids', 'int64', ['b', 77]);
    t.input('attention_mask', 'int64', ['b', 77]);
    t.node(
      'Cast',
      [t.node('Unsqueeze', [ids, t.initializer('axis', 'int64', [1], BigInt64Array.of(2n))])],
      { to: attr.int(1) },
      'last_hidden_state',
    );
    t.output('last_hidden_state', 'float32', ['b', 77, 1]);
    await writeFile(join(masked, 'text_encoder', 'model.onnx'), t.toBytes());
    expect(await refusal(masked)).toMatch(
      /text_encoder.*input_ids, attention_mask.*obelm feeds exactly \(input_ids\)/,
    );
  });

  it('feeds the timestep as a scalar, as [1], or as one copy per row of the batch', async () => {
    // out_sample = sample x sum(timestep): the sum counts the copies fed.
    const unetGraph = (dims: (number | string)[]) => {
      const g = new GraphBuilder('unet');
      const sample = g.input('sample', 'float32', ['b', 4, 8, 8]);
      const timestep = g.input('timestep', 'float32', dims);
      g.input('encoder_hidden_states', 'float32', ['b', 77, 32]);
      const total = g.node('ReduceSum', [timestep], { keepdims: attr.int(0) });
      g.node('Mul', [sample, total], {}, 'out_sample');
      g.output('out_sample', 'float32', ['b', 4, 8, 8]);
      return g.toBytes();
    };
    const x = { data: new Float64Array(512).map((_, i) => (i % 16) / 8), shape: [2, 4, 8, 8] };
    for (const [dims, copies] of [
      [[], 1],
      [[1], 1],
      [['batch'], 2],
      [[2], 2],
    ] as const) {
      const dir = join(root, `timestepCopies-${dims.join('') || 'scalar'}`);
      await writeTinySdBundle(dir);
      await writeFile(join(dir, 'unet', 'model.onnx'), unetGraph([...dims]));
      const model = await loadBundle(dir, runtime);
      const emb = stack([await model.embed(''), await model.embed('')]);
      const eps = await model.eps(x, 3, emb);
      expect(Array.from(eps), JSON.stringify(dims)).toEqual(Array.from(x.data, (v) => v * 3 * copies));
      await model.close();
    }
  });

  it('encodes one image twice at load and refuses an encoder whose two latents differ', async () => {
    // A Dropout left in training mode: not a random op by name, random all the same.
    const dir = join(root, 'dropoutEncoder');
    await writeTinySdBundle(dir);
    await writeFile(join(dir, 'vae_encoder', 'model.onnx'), encoderGraph('latent_parameters', true));
    expect(await refusal(dir)).toMatch(/vae_encoder is not deterministic.*optimum-cli export onnx/);
    // The older script's sampling encoder fails this check too, past the scan for random ops.
    const script = join(root, 'scriptRandom');
    await writeTinySdExport(script, 'diffusers-script-random');
    const error = await openSdBundle(script, await inferSdManifest(script), runtime).catch((e: unknown) => e);
    expect((error as Error).message).toMatch(/vae_encoder is not deterministic/);
    // The same graph without Dropout loads.
    await writeFile(join(dir, 'vae_encoder', 'model.onnx'), encoderGraph('latent_parameters'));
    await (await loadBundle(dir, runtime)).close();
  });
});
