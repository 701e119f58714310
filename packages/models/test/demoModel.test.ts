import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { alphasCumprod, type Embedding } from '@obelm/engine';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadBundle } from '../src/bundle/load.ts';
import type { LoadedModel } from '../src/bundle/model.ts';
import { DEMO_SCHEDULE, DEMO_STD } from '../src/demo/bundle.ts';
import { demoDataset } from '../src/demo/dataset.ts';
import { centreMixture, mixtureEps, mixtureTables } from '../src/demo/mixture.ts';
import { cudaProviderInstalled } from '../src/testing.ts';

const dataset = demoDataset();
const D = 3 * 32 * 32;
const K = dataset.items.length;
const mixture = centreMixture(dataset.images, K);
const tables = mixtureTables(alphasCumprod(DEMO_SCHEDULE), DEMO_STD);
const abar = alphasCumprod(DEMO_SCHEDULE);

/** A noised dataset image x_t = sqrt(abar) mu_k + sqrt(1 - abar) z, with a fixed pseudo-random z. */
function noisy(k: number, t: number, seed: number): Float64Array {
  let state = seed;
  const z = () => {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    return (state / 2 ** 31) * 2 - 1; // uniform, enough for a test input
  };
  const a = abar[t]!;
  return Float64Array.from(
    dataset.images.subarray(k * D, (k + 1) * D),
    (m) => Math.sqrt(a) * m + Math.sqrt(1 - a) * z() * 1.7,
  );
}

function stack(embeddings: Embedding[]): Embedding {
  const data = new Float32Array(embeddings.length * K);
  embeddings.forEach((e, b) => {
    data.set(e.data, b * K);
  });
  return { data, shape: [embeddings.length, 1, K] };
}

describe('demo bundle eps through onnxruntime', () => {
  let cacheDir: string;
  let model: LoadedModel;
  const logs: string[] = [];

  beforeAll(async () => {
    cacheDir = await mkdtemp(join(tmpdir(), 'obelm-demo-'));
    model = await loadBundle('demo', { provider: 'cpu', cacheDir, logger: (m) => logs.push(m) });
  });
  afterAll(async () => {
    await model.close();
    await rm(cacheDir, { recursive: true, force: true });
  });

  it('describes a 32x32 pixel model with the recommended defaults', () => {
    expect(model.id).toBe('demo-v1');
    expect(model.latentShape).toEqual([1, 3, 32, 32]);
    expect(model.imageSize).toEqual([32, 32]);
    expect(model.defaults).toMatchObject({ steps: 20, guidance: 1, maxGuidance: 3, editRestart: 'single' });
  });

  it('matches a float64 evaluation of the same formula on the float32-rounded input', async () => {
    let worst = 0;
    for (const prompt of ['', 'red circle', 'blue', 'star forest right']) {
      const emb = await model.embed(prompt);
      for (const t of [999, 500, 111, 20, 1, 0]) {
        const x = noisy((t * 7) % K, t, t + 1);
        const eps = await model.eps({ data: x, shape: [1, 3, 32, 32] }, t, emb);
        const reference = mixtureEps(Float64Array.from(x, Math.fround), t, emb.data, mixture, tables);
        const scale = Math.max(...reference.map(Math.abs));
        const diff = Math.max(...eps.map((e, i) => Math.abs(e - reference[i]!)));
        worst = Math.max(worst, diff / scale);
      }
    }
    expect(worst).toBeLessThan(1e-5);
  });

  it('gives each batch row bitwise the same eps as a single-row call, on every call', async () => {
    const prompts = ['red circle', '', 'yellow star navy'];
    const embs = await Promise.all(prompts.map((p) => model.embed(p)));
    const rows = prompts.map((_, b) => noisy(b * 40, 300, b + 5));
    const batch = new Float64Array(rows.length * D);
    rows.forEach((r, b) => {
      batch.set(r, b * D);
    });
    const batched = await model.eps({ data: batch, shape: [3, 3, 32, 32] }, 300, stack(embs));
    const again = await model.eps({ data: batch, shape: [3, 3, 32, 32] }, 300, stack(embs));
    expect(Buffer.from(again.buffer).equals(Buffer.from(batched.buffer))).toBe(true);
    for (const [b, row] of rows.entries()) {
      const single = await model.eps({ data: row, shape: [1, 3, 32, 32] }, 300, embs[b]!);
      expect(Buffer.from(single.buffer).equals(Buffer.from(batched.slice(b * D, (b + 1) * D).buffer))).toBe(
        true,
      );
    }
  });

  it('rejects prompts that match nothing, and reports unknown words', async () => {
    await expect(model.embed('red blue')).rejects.toMatchObject({ code: 'prompt_no_match' });
    await expect(model.embed('a photo of a dog')).rejects.toMatchObject({ code: 'prompt_no_match' });
    const emb = await model.embed('A red CIRCLE, please');
    expect(logs.join('\n')).toMatch(/unknown prompt words: a, please/);
    const selected = Array.from(emb.data).filter((v) => v > -1e29);
    expect(selected).toHaveLength(6); // 2 backgrounds x 3 positions
    expect(selected[0]).toBeCloseTo(-Math.log(6), 6);
    expect(Array.from((await model.embed('')).data).every((v) => Math.abs(v + Math.log(K)) < 1e-6)).toBe(
      true,
    );
  });

  it('rejects a wrongly shaped sample, a bad timestep, or a mismatched embedding batch', async () => {
    const emb = await model.embed('');
    const x = new Float64Array(D);
    await expect(model.eps({ data: x, shape: [1, 3, 16, 64] }, 10, emb)).rejects.toMatchObject({
      code: 'model_bad_input',
    });
    await expect(model.eps({ data: x, shape: [1, 3, 32, 32] }, 1000, emb)).rejects.toMatchObject({
      code: 'model_bad_input',
    });
    await expect(model.eps({ data: x, shape: [1, 3, 32, 32] }, 2.5, emb)).rejects.toMatchObject({
      code: 'model_bad_input',
    });
    await expect(model.eps({ data: x, shape: [1, 3, 32, 32] }, 10, stack([emb, emb]))).rejects.toMatchObject({
      code: 'model_bad_input',
    });
  });

  // biome-ignore lint/plugin/noSilentSkip: with the CUDA provider library installed, 'cuda' loads and there is nothing to refuse
  it.skipIf(cudaProviderInstalled())(
    'refuses to load on cpu when asked for an unavailable provider',
    async () => {
      await expect(loadBundle('demo', { provider: 'cuda', cacheDir })).rejects.toMatchObject({
        name: 'ModelError',
        code: 'provider_unavailable',
      });
    },
  );

  it('falls back to cpu with a warning when asked for an unavailable provider and allowed to', async () => {
    const warnings: string[] = [];
    const gpu = await loadBundle('demo', {
      provider: 'cuda',
      cpuFallback: true,
      cacheDir,
      logger: (m) => warnings.push(m),
    });
    if (gpu.provider === 'cpu') expect(warnings.some((w) => w.includes("'cuda' is unavailable"))).toBe(true);
    await gpu.close();
  });
});
