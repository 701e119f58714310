import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { edit, reconstruct, sample } from '@obelm/engine';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadBundle } from '../src/bundle/load.ts';
import type { LoadedModel } from '../src/bundle/model.ts';
import { demoDataset, renderItem } from '../src/demo/dataset.ts';

const { items, images } = demoDataset();
const D = 3 * 32 * 32;

/** Index of the dataset image nearest to `x` (L2). */
function nearest(x: Float64Array): number {
  let best = 0;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (let k = 0; k < items.length; k++) {
    let d = 0;
    for (let i = 0; i < D; i++) d += (x[i]! - images[k * D + i]!) ** 2;
    if (d < bestDistance) [best, bestDistance] = [k, d];
  }
  return best;
}

describe('demo bundle through the engine pipelines', () => {
  let cacheDir: string;
  let model: LoadedModel;
  beforeAll(async () => {
    cacheDir = await mkdtemp(join(tmpdir(), 'obelm-demo-'));
    model = await loadBundle('demo', { provider: 'cpu', cacheDir });
  });
  afterAll(async () => {
    await model.close();
    await rm(cacheDir, { recursive: true, force: true });
  });

  it('has epsRows: rows at mixed timesteps in one call equal, bitwise, each row eps alone', async () => {
    const prompts = ['', 'red circle', 'blue star', 'green triangle forest', 'white ring left'];
    const timesteps = Float64Array.of(999, 0, 500, 37, 500);
    const embeddings = await Promise.all(prompts.map((p) => model.embed(p)));
    const embRow = embeddings[0]!.data.length;
    const x = new Float64Array(prompts.length * D).map((_, i) => Math.sin(i * 0.37) * 1.3);
    const emb = new Float32Array(prompts.length * embRow);
    for (const [r, e] of embeddings.entries()) emb.set(e.data, r * embRow);
    const rows = await model.epsRows!({ data: x, shape: [prompts.length, 3, 32, 32] }, timesteps, {
      data: emb,
      shape: [prompts.length, ...embeddings[0]!.shape.slice(1)],
    });
    const bytes = (a: Float64Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);
    for (const [r, t] of timesteps.entries()) {
      const alone = await model.eps(
        { data: x.slice(r * D, (r + 1) * D), shape: [1, 3, 32, 32] },
        t,
        embeddings[r]!,
      );
      expect(bytes(rows.subarray(r * D, (r + 1) * D)).equals(bytes(alone))).toBe(true);
    }
    await expect(
      model.epsRows!({ data: x, shape: [prompts.length, 3, 32, 32] }, timesteps.subarray(1), {
        data: emb,
        shape: [prompts.length, 1, embRow],
      }),
    ).rejects.toThrow('4 timesteps for a batch of 5');
  });

  it.each([
    ['red circle', 1, 1],
    ['blue star', 2, 1],
    ['green triangle forest', 3, 1],
    ['white ring left', 4, 3],
  ])('samples an image of the prompted class: %s (seed %i, g = %d)', async (prompt, seed, guidance) => {
    const { image } = await sample(model, { prompt, seed, guidance });
    const k = nearest(image.data);
    for (const word of prompt.split(' ')) expect(items[k]!.words).toContain(word);
    // The output is that dataset image plus fine grain (RMS about s = 0.05).
    let d2 = 0;
    for (let i = 0; i < D; i++) d2 += (image.data[i]! - images[k * D + i]!) ** 2;
    expect(Math.sqrt(d2 / D)).toBeLessThan(0.1);
  });

  it.each([10, 20, 50])(
    'reconstructs an off-dataset image exactly with O-BELM at %i steps',
    async (steps) => {
      // A purple ring moved off the position grid: not a dataset image, so inversion is a real test.
      const moved = renderItem(
        { shape: 'ring', colour: 'purple', background: 'navy', position: 'center' },
        32,
      );
      const shifted = new Float64Array(D);
      for (let c = 0; c < 3; c++)
        for (let y = 0; y < 32; y++)
          for (let x = 0; x < 32; x++)
            shifted[c * 1024 + y * 32 + x] = moved[c * 1024 + y * 32 + ((x + 3) % 32)]!;
      const result = await reconstruct(model, { image: { data: shifted, shape: [1, 3, 32, 32] }, steps });
      expect(result.latentMaxAbsError).toBeLessThan(1e-8);
    },
  );

  it.each([
    ['red circle navy center', 'red circle', 'blue circle', 'blue circle navy center'],
    ['yellow star forest left', 'yellow star', 'yellow square', 'yellow square forest left'],
    ['green ring navy right', 'navy', 'forest', 'green ring forest right'],
  ])(
    'edits %s from "%s" to "%s": the asked attribute changes, the rest stays',
    async (source, from, to, expected) => {
      const k = items.findIndex((item) => source.split(' ').every((w) => item.words.has(w)));
      const image = { data: images.slice(k * D, (k + 1) * D), shape: [1, 3, 32, 32] };
      const result = await edit(model, { image, sourcePrompt: from, targetPrompt: to });
      const got = items[nearest(result.image.data)]!;
      expect([...got.words].sort()).toEqual(expected.split(' ').sort());
    },
  );
});
