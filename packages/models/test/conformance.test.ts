/**
 * Conformance of the exports people have: tiny bundles with exactly the signatures and configs of today's
 * optimum (fp32, fp16), the older diffusers script (its posterior-mean variant, fp32 and fp16) and an SD 2.x
 * v-prediction export load and run invert, sample, edit and reconstruct with round trips within 1e-8; the
 * script's random-encoder export is refused at load with its reason and the way to re-export.
 */
import { mkdtempSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  alphasCumprod,
  edit,
  gaussianNoise,
  invert,
  reconstruct,
  type SamplerState,
  sample,
  type Tensor,
} from '@obelm/engine';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadBundle } from '../src/bundle/load.ts';
import type { LoadedModel } from '../src/bundle/model.ts';
import { ModelError } from '../src/runtime/errors.ts';
import { openSession } from '../src/runtime/session.ts';
import { TINY_SD_FLAVORS, type TinySdFlavor, writeTinySdBundle, writeTinySdExport } from '../src/testing.ts';
import { loadClipTokenizer } from '../src/tokenizer/clip.ts';

const runtime = { provider: 'cpu', threads: 1 } as const;
const root = mkdtempSync(join(tmpdir(), 'obelm-conformance-'));
afterAll(() => rm(root, { recursive: true, force: true }));

const steps = 8;
const guidance = 3;
const prompt = 'a photo of a red cat';

/** A smooth test image in [-0.8, 0.8]. */
const image: Tensor = {
  data: new Float64Array(3 * 64 * 64).map((_, i) => Math.sin(i * 0.013) * 0.8),
  shape: [1, 3, 64, 64],
};

function maxAbs(a: Float64Array, b: Float64Array): number {
  expect(a.length).toBe(b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
  return worst;
}

const bytes = (data: Float64Array | Float32Array) =>
  Buffer.from(data.buffer, data.byteOffset, data.byteLength);

function pair(state: SamplerState): Extract<SamplerState, { kind: 'pair' }> {
  if (state.kind !== 'pair') throw new Error(`expected a pair, got ${state.kind}`);
  return state;
}

/** Every flavor that must load, plus the script's --fp16 export (a float16 timestep of shape [batch]). */
const exports: readonly [string, (dir: string) => Promise<void>][] = [
  ...(['optimum', 'optimum-fp16', 'diffusers-script', 'sd2-v'] as const).map(
    (flavor) =>
      [flavor, (dir: string) => writeTinySdExport(dir, flavor)] as [string, (dir: string) => Promise<void>],
  ),
  [
    'diffusers-script --fp16',
    (dir) =>
      writeTinySdBundle(dir, { ...TINY_SD_FLAVORS['diffusers-script'], fp16: true, timestep: 'float16' }),
  ],
];

describe.each(exports)('the %s export', (name, write) => {
  let model: LoadedModel;
  beforeAll(async () => {
    const dir = join(root, name.replace(/[^a-z0-9]+/g, '-'));
    await write(dir);
    model = await loadBundle(dir, runtime);
  });
  afterAll(() => model.close());

  it('loads, and embeds and encodes deterministically', async () => {
    expect(model.latentShape).toEqual([1, 4, 8, 8]);
    expect(model.imageSize).toEqual([64, 64]);
    const embedding = await model.embed(prompt);
    expect(embedding.shape).toEqual([1, 77, 32]);
    expect(bytes((await model.embed(prompt)).data).equals(bytes(embedding.data))).toBe(true);
    const latent = await model.encode(image);
    expect(latent.length).toBe(256);
    expect(bytes(await model.encode(image)).equals(bytes(latent))).toBe(true);
  });

  it('has epsRows exactly where its UNet timestep is [batch], each row bitwise its eps alone', async () => {
    const perRow = name.startsWith('diffusers-script');
    expect(model.epsRows !== undefined).toBe(perRow);
    if (perRow) await expectRowsExact(model);
  });

  it('samples from seeded noise, and inverting the sample from its kept pair returns that noise within 1e-8', async () => {
    const sampled = await sample(model, { prompt, seed: 7, steps, guidance });
    expect(pair(sampled.state).index).toBe(1);
    expect(sampled.image.data.every((v) => Number.isFinite(v) && Math.abs(v) <= 1)).toBe(true);
    const inverted = await invert(model, { state: sampled.state, prompt, steps, guidance });
    expect(pair(inverted.state).index).toBe(steps);
    expect(maxAbs(pair(inverted.state).upper, gaussianNoise(7, 256))).toBeLessThan(1e-8);
  });

  it('reconstructs an image latent within 1e-8', async () => {
    const result = await reconstruct(model, { image, prompt, steps, guidance });
    expect(result.latentMaxAbsError).toBeLessThan(1e-8);
  });

  it('edits: the source prompt as target returns the latent within 1e-8, another prompt changes it', async () => {
    const latent = await model.encode(image);
    const request = { image, sourcePrompt: prompt, steps, strength: 0.75, restart: 'pair' } as const;
    const same = await edit(model, { ...request, targetPrompt: prompt });
    expect(same.freeze).toBe(2);
    expect(maxAbs(pair(same.state).lower, latent)).toBeLessThan(1e-8);
    const other = await edit(model, { ...request, targetPrompt: 'a painting of a blue dog' });
    expect(maxAbs(pair(other.state).lower, latent)).toBeGreaterThan(1e-3);
  });
});

/** Rows at mixed timesteps and prompts through epsRows equal, bitwise, each row's plain eps alone. */
async function expectRowsExact(model: LoadedModel): Promise<void> {
  const timesteps = Float64Array.of(999, 1, 601, 601);
  const embeddings = await Promise.all(['', prompt, 'a blue dog', ''].map((p) => model.embed(p)));
  const row = 256;
  const embRow = embeddings[0]!.data.length;
  const x = new Float64Array(4 * row).map((_, i) => Math.cos(i * 0.7) * 1.2);
  const emb = new Float32Array(4 * embRow);
  for (const [r, e] of embeddings.entries()) emb.set(e.data, r * embRow);
  const rows = await model.epsRows!({ data: x, shape: [4, 4, 8, 8] }, timesteps, {
    data: emb,
    shape: [4, 77, 32],
  });
  for (const [r, t] of timesteps.entries()) {
    const alone = await model.eps(
      { data: x.slice(r * row, (r + 1) * row), shape: [1, 4, 8, 8] },
      t,
      embeddings[r]!,
    );
    expect(bytes(rows.subarray(r * row, (r + 1) * row)).equals(bytes(alone))).toBe(true);
  }
}

describe('the sd2-v export (v-prediction)', () => {
  it('with a [batch] timestep, converts each row of epsRows at its own t, bitwise as eps alone', async () => {
    const dir = join(root, 'sd2-v-batch');
    await writeTinySdBundle(dir, { ...TINY_SD_FLAVORS['sd2-v'], timestepShape: 'batch' });
    const model = await loadBundle(dir, runtime);
    try {
      expect(model.manifest.prediction).toBe('v_prediction');
      await expectRowsExact(model);
    } finally {
      await model.close();
    }
  });

  it('is read as v_prediction and its UNet output is converted to eps exactly', async () => {
    const dir = join(root, 'sd2-v-eps');
    await writeTinySdExport(dir, 'sd2-v');
    const model = await loadBundle(dir, runtime);
    expect(model.manifest.prediction).toBe('v_prediction');
    // SD 2's OpenCLIP tokenizer pads with '!' (id 0), not with the end token.
    const tokenizer = await loadClipTokenizer(join(dir, 'tokenizer'));
    expect(tokenizer.padId).toBe(0);
    expect(tokenizer.encode('a cat').at(-1)).toBe(0);
    const emb = await model.embed(prompt);
    const x = new Float64Array(256).map((_, i) => Math.cos(i * 0.7) * 1.2);
    const t = 601;
    const eps = await model.eps({ data: x, shape: [1, 4, 8, 8] }, t, emb);
    // The raw UNet output (v) on the same inputs, as the export's rank-0 int64 timestep.
    const unet = await openSession(join(dir, 'unet', 'model.onnx'), runtime);
    const out = await unet.run({
      sample: { dtype: 'float64', dims: [1, 4, 8, 8], data: x },
      timestep: { dtype: 'int64', dims: [], data: BigInt64Array.of(BigInt(t)) },
      encoder_hidden_states: { dtype: 'float32', dims: emb.shape, data: emb.data },
    });
    await unet.release();
    const v = out.out_sample!.data as Float64Array;
    expect(maxAbs(eps, v)).toBeGreaterThan(0.1);
    // eps = sqrt(abar_t) v + sqrt(1 - abar_t) x_t, in float64 on the float64 state.
    const abar = alphasCumprod(model.schedule)[t]!;
    const expected = v.map((vi, i) => Math.sqrt(abar) * vi + Math.sqrt(1 - abar) * x[i]!);
    expect(bytes(eps).equals(bytes(expected))).toBe(true);
    await model.close();
  });
});

describe('the diffusers-script-random export', () => {
  it('is refused at load: its VAE encoder samples with RandomNormalLike; the message says how to re-export', async () => {
    const dir = join(root, 'script-random');
    await writeTinySdExport(dir, 'diffusers-script-random' satisfies TinySdFlavor);
    const error = await loadBundle(dir, runtime).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ModelError);
    expect((error as ModelError).code).toBe('bundle_invalid_manifest');
    const message = (error as ModelError).message;
    expect(message).toContain('vae_encoder/model.onnx has random ops (RandomNormalLike)');
    expect(message).toContain('two encodings of one image differ');
    expect(message).toContain('optimum-cli export onnx --model <model id> --task text-to-image');
    expect(message).toContain('latent_parameters');
  });
});
