import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Embedding, Tensor } from '@obelm/engine';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadBundle } from '../src/bundle/load.ts';
import { ModelError } from '../src/runtime/errors.ts';
import type { SdModel } from '../src/sd/index.ts';
import { writeTinySdBundle } from '../src/testing.ts';

const runtime = { provider: 'cpu', threads: 1 } as const;
const root = mkdtempSync(join(tmpdir(), 'obelm-sd-'));
const bundles = {
  fp32Int64: { fp16: false, timestep: 'int64' },
  fp32Float: { fp16: false, timestep: 'float32', inputIds: 'int64', posterior: false },
  fp16Int64: { fp16: true, timestep: 'int64' },
  fp16Float: { fp16: true, timestep: 'float32' },
} as const;
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
    expect(model.schedule).toMatchObject({
      betaSchedule: 'scaled_linear',
      spacing: 'linspace',
      finalAbar: 'one',
    });
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

  it('feeds int64 and float32 timesteps alike, and fp16 stays close to fp32', async () => {
    const x = latent(1, 3);
    const a = models['fp32Int64']!;
    const emb = await a.embed('a blue star');
    const viaInt = await a.eps(x, 981, emb);
    // Same seed, same weights: only the timestep dtype differs between these two bundles' UNets.
    await writeTinySdBundle(join(root, 'fp32FloatSameIds'), { timestep: 'float32' });
    const b = await loadBundle(join(root, 'fp32FloatSameIds'), runtime);
    expect(hex(await b.eps(x, 981, await b.embed('a blue star')))).toBe(hex(viaInt));
    const half = await models['fp16Int64']!.eps(x, 981, await models['fp16Int64']!.embed('a blue star'));
    let worst = 0;
    for (let i = 0; i < half.length; i++) worst = Math.max(worst, Math.abs(half[i]! - viaInt[i]!));
    expect(worst).toBeGreaterThan(0); // really computed in half precision at the boundary
    expect(worst).toBeLessThan(0.05);
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

    const vpred = join(root, 'vpred');
    await writeTinySdBundle(vpred);
    const schedulerPath = join(vpred, 'scheduler', 'scheduler_config.json');
    const scheduler = JSON.parse(readFileSync(schedulerPath, 'utf8'));
    writeFileSync(schedulerPath, JSON.stringify({ ...scheduler, prediction_type: 'v_prediction' }));
    expect(code(await loadBundle(vpred, runtime).catch((e) => e))).toBe('bundle_invalid_manifest');
  });
});
