/**
 * I/O around an SD job: `npx tsx packages/models/bench/sd-io.bench.ts`.
 * Image decode/encode at 512x512, noise artifact write/read at SD-1.5 latent size (pair of 1x4x64x64),
 * CLIP tokenisation, and the tiny SD bundle's eps call (fp32 and fp16, CFG batch of 2) with the share of it
 * spent outside onnxruntime's kernels being the float casts.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import {
  decodeImage,
  encodeImage,
  loadBundle,
  loadClipTokenizer,
  readNoiseArtifact,
  sd15Defaults,
  sd15Schedule,
  writeNoiseArtifact,
  writeTinySdBundle,
} from '../src/index.ts';

async function median(runs: number, fn: () => Promise<unknown> | unknown): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    await fn();
    times.push(performance.now() - start);
  }
  return times.sort((a, b) => a - b)[Math.floor(runs / 2)]!;
}

const rows: [string, number][] = [];
const root = await mkdtemp(join(tmpdir(), 'obelm-sd-bench-'));
try {
  const pixels = {
    data: new Float64Array(3 * 512 * 512).map((_, i) => Math.sin(i * 0.001)),
    shape: [1, 3, 512, 512],
  };
  const png = await encodeImage(pixels, 'png');
  const jpeg = await encodeImage(pixels, 'jpeg');
  rows.push(['encode PNG 512x512 (ms)', await median(5, () => encodeImage(pixels, 'png'))]);
  rows.push(['encode lossless WebP 512x512 (ms)', await median(5, () => encodeImage(pixels, 'webp'))]);
  rows.push([
    'decode PNG 512x512 -> tensor (ms)',
    await median(5, () => decodeImage(png, { size: [512, 512] })),
  ]);
  rows.push([
    'decode JPEG 512x512 -> tensor (ms)',
    await median(5, () => decodeImage(jpeg, { size: [512, 512] })),
  ]);

  const latent = () => new Float64Array(4 * 64 * 64).map(Math.random);
  const artifact = {
    state: { kind: 'pair', index: 50, upper: latent(), lower: latent() },
    meta: {
      bundleId: 'sd15',
      schedule: sd15Schedule,
      steps: 50,
      sampler: { name: 'obelm' },
      prompt: 'a photo of a cat',
      negativePrompt: '',
      guidance: sd15Defaults.guidance,
      firstInversionTimestep: 1,
      freezeIndex: 0,
      imageSize: [512, 512],
      latentShape: [1, 4, 64, 64],
    },
  } as const;
  const bytes = writeNoiseArtifact(artifact);
  rows.push(['noise artifact size, pair 1x4x64x64 (KiB)', bytes.length / 1024]);
  rows.push(['noise artifact write (ms)', await median(9, () => writeNoiseArtifact(artifact))]);
  rows.push(['noise artifact read + validate (ms)', await median(9, () => readNoiseArtifact(bytes))]);

  for (const [name, options] of [
    ['fp32', {}],
    ['fp16', { fp16: true }],
  ] as const) {
    const dir = join(root, name);
    await writeTinySdBundle(dir, options);
    if (name === 'fp32') {
      const tokenizer = await loadClipTokenizer(join(dir, 'tokenizer'));
      rows.push([
        'CLIP tokenize a 12-word prompt (ms)',
        await median(21, () => tokenizer.encode('a photo of a red cat with a blue dog in the house')),
      ]);
    }
    const model = await loadBundle(dir, { provider: 'cpu', threads: 1 });
    const [u, c] = [await model.embed(''), await model.embed('a red cat')];
    const emb = { data: new Float32Array([...u.data, ...c.data]), shape: [2, 77, 32] };
    const x = { data: new Float64Array(2 * 256).map(Math.random), shape: [2, 4, 8, 8] };
    rows.push([`tiny SD eps, ${name}, CFG batch 2 (ms)`, await median(51, () => model.eps(x, 500, emb))]);
    await model.close();
  }
} finally {
  await rm(root, { recursive: true, force: true });
}
for (const [name, value] of rows) console.log(`${name.padEnd(48)} ${value.toFixed(3)}`);
