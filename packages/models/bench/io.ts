/**
 * I/O around an SD job: image decode/encode at 512x512, the noise artifact (safetensors) at SD-1.5 latent size
 * (a pair of 1x4x64x64), and CLIP tokenisation.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  decodeImage,
  encodeImage,
  loadClipTokenizer,
  readNoiseArtifact,
  sd15Defaults,
  sd15Schedule,
  writeNoiseArtifact,
} from '../src/index.ts';
import { writeTinyClipTokenizer } from '../src/testing.ts';
import { medianMs, ms, type Table } from './report.ts';

export async function ioTable(): Promise<Table> {
  const rows: [string, string][] = [];
  const pixels = {
    data: new Float64Array(3 * 512 * 512).map((_, i) => Math.sin(i * 0.001)),
    shape: [1, 3, 512, 512],
  };
  const png = await encodeImage(pixels, 'png');
  const jpeg = await encodeImage(pixels, 'jpeg');
  rows.push(['encode PNG 512x512', ms(await medianMs(5, () => encodeImage(pixels, 'png')))]);
  rows.push(['encode lossless WebP 512x512', ms(await medianMs(3, () => encodeImage(pixels, 'webp')))]);
  rows.push([
    'decode PNG 512x512 -> tensor',
    ms(await medianMs(5, () => decodeImage(png, { size: [512, 512] }))),
  ]);
  rows.push([
    'decode JPEG 512x512 -> tensor',
    ms(await medianMs(5, () => decodeImage(jpeg, { size: [512, 512] }))),
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
  rows.push(['noise artifact size, pair 1x4x64x64', `${(bytes.length / 1024).toFixed(1)} KiB`]);
  rows.push(['noise artifact write', ms(await medianMs(21, () => writeNoiseArtifact(artifact)))]);
  rows.push(['noise artifact read + validate', ms(await medianMs(21, () => readNoiseArtifact(bytes)))]);

  const dir = await mkdtemp(join(tmpdir(), 'obelm-bench-tokenizer-'));
  try {
    await writeTinyClipTokenizer(dir);
    const tokenizer = await loadClipTokenizer(dir);
    const prompt = 'a photo of a red cat with a blue dog in the house';
    rows.push(['CLIP tokenize a 12-word prompt', ms(await medianMs(21, () => tokenizer.encode(prompt)))]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  return { title: 'I/O around a job (median)', columns: ['time'], rows };
}
