import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { alphasCumprod, gaussianEps, SD_SCHEDULE } from '@obelm/engine';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadBundle, readManifest } from '../src/bundle/load.ts';
import { parseManifest } from '../src/bundle/manifest.ts';
import { writeBundle } from '../src/bundle/write.ts';
import {
  buildDemoModel,
  DEMO_BUNDLE_ID,
  DEMO_DEFAULTS,
  demoManifest,
  ensureDemoBundle,
} from '../src/demo/bundle.ts';
import { type GaussianSpec, writeGaussianBundle } from '../src/testing.ts';

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'obelm-bundle-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('demo bundle', () => {
  it('is generated once into the cache with deterministic bytes and checksums', async () => {
    const cacheDir = join(root, 'cache');
    const dir = await ensureDemoBundle(cacheDir);
    expect(dir).toBe(join(cacheDir, 'demo-v1'));
    const onDisk = await readFile(join(dir, 'unet.onnx'));
    expect(onDisk.equals(Buffer.from(buildDemoModel()))).toBe(true);
    const manifest = await readManifest(dir);
    expect(manifest.sha256?.['unet.onnx']).toBe(createHash('sha256').update(onDisk).digest('hex'));
    expect(manifest).toMatchObject({ kind: 'pixel', conditioning: 'demo-labels', defaults: DEMO_DEFAULTS });
    expect(await ensureDemoBundle(cacheDir)).toBe(dir); // reused, not rebuilt
  });

  // The cache folder is named by DEMO_BUNDLE_ID, so any change to the model's bytes must come with a new id
  // (demo-v2), or machines with an old cache would keep serving the old model.
  it('pins the demo model bytes to DEMO_BUNDLE_ID', () => {
    const sha = createHash('sha256').update(buildDemoModel()).digest('hex');
    expect(`${DEMO_BUNDLE_ID} ${sha}`).toBe(
      'demo-v1 bb85b9e7e6371ed5fb913a4c8c4d50dff5dfeae7574c28b80f260b02485cba51',
    );
  });

  it('refuses a bundle file that does not match its checksum', async () => {
    const dir = join(root, 'corrupt');
    await writeBundle(dir, demoManifest(), { 'unet.onnx': buildDemoModel() });
    await writeFile(join(dir, 'unet.onnx'), Uint8Array.of(1, 2, 3));
    await expect(loadBundle(dir, { provider: 'cpu' })).rejects.toMatchObject({
      code: 'bundle_invalid_manifest',
    });
  });
});

describe('manifest', () => {
  const valid = { ...demoManifest() };

  it('accepts the demo manifest', () => {
    expect(parseManifest(JSON.parse(JSON.stringify(valid)), 'x').id).toBe('demo-v1');
  });

  it.each([
    ['kind', { kind: 'video' }, /'kind'/],
    ['latentShape', { latentShape: [2, 3, 32, 32] }, /'latentShape'/],
    ['schedule', { schedule: { ...valid.schedule, spacing: 'random' } }, /schedule.spacing/],
    ['defaults', { defaults: { ...valid.defaults, editRestart: 'maybe' } }, /defaults.editRestart/],
    ['files', { files: { unet: '../escape.onnx' } }, /files.unet/],
  ])('rejects a bad %s with a message naming the field', (_, patch, message) => {
    expect(() => parseManifest({ ...valid, ...patch }, 'bundle')).toThrow(message);
    expect(() => parseManifest({ ...valid, ...patch }, 'bundle')).toThrow(
      expect.objectContaining({ code: 'bundle_invalid_manifest' }),
    );
  });

  it('reports a missing bundle folder', async () => {
    await expect(loadBundle(join(root, 'nowhere'), { provider: 'cpu' })).rejects.toMatchObject({
      code: 'bundle_not_found',
    });
  });
});

describe('analytic Gaussian bundle', () => {
  const D = 3 * 4 * 4;
  const spec: GaussianSpec = {
    mu: Float64Array.from({ length: D }, (_, i) => Math.sin(i * 1.3)),
    s: Float64Array.from({ length: D }, (_, i) => 0.2 + 1.3 * ((i * 0.37) % 1)),
    shape: [3, 4, 4],
  };
  const abar = alphasCumprod(SD_SCHEDULE);
  // The engine's analytic predictor is the ground truth the ONNX graph must reproduce.
  const engineEps = gaussianEps({ mu: Array.from(spec.mu), s: Array.from(spec.s) });

  it('matches the float64 formula (docs/math.md §11.1) to float32 accuracy through onnxruntime', async () => {
    const model = await loadBundle(await writeGaussianBundle(join(root, 'gaussian'), spec), {
      provider: 'cpu',
    });
    expect(model.latentShape).toEqual([1, 3, 4, 4]);
    const emb = await model.embed('ignored');
    const x = Float64Array.from({ length: 2 * D }, (_, i) => Math.cos(i * 0.7) * 3);
    let worst = 0;
    for (const t of [999, 640, 100, 1, 0]) {
      const eps = await model.eps({ data: x, shape: [2, 3, 4, 4] }, t, emb);
      const exact = engineEps(x, abar[t]!);
      for (let i = 0; i < eps.length; i++) {
        worst = Math.max(worst, Math.abs(eps[i]! - exact[i]!) / Math.max(1, Math.abs(exact[i]!)));
      }
    }
    expect(worst).toBeLessThan(2e-6);
    expect(worst).toBeGreaterThan(0); // it really ran in float32
    await model.close();
  });
});
