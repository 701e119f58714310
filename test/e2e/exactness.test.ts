import { cpus } from 'node:os';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { s3Keys } from '@obelm/core';
import { gaussianNoise } from '@obelm/engine';
import { decodeImage, onnxruntimeVersion, readNoiseArtifact, writeNoiseArtifact } from '@obelm/models';
import sharp from 'sharp';
import { afterAll, beforeAll, expect, test } from 'vitest';
import {
  base64,
  createJob,
  demoPng,
  download,
  startTestStack,
  type TestStack,
  waitForJob,
} from './helpers.ts';

let t: TestStack;
beforeAll(async () => {
  t = await startTestStack();
});
afterAll(async () => {
  await t?.stop();
});

/**
 * The exactness claim across processes: the noise one worker process stores, a fresh process samples back to
 * the input. Measured three times: by the sample job itself (its x_0 against the x_0 the inversion kept), the
 * sample's final state x_0 against the input's latent (the demo is pixel space, so the latent is the decoded
 * pixels), and the output PNG's pixels against the input's, exactly.
 */
test('invert in one worker process, sample in another: the input comes back', async () => {
  const png = await demoPng({ shape: 'star', colour: 'yellow', background: 'forest', position: 'left' });
  // An off-dataset twist (a one-pixel dot) so the image is not a fixed point of the model.
  const raw = await sharp(png).raw().toBuffer();
  raw.set([200, 40, 40], (10 * 32 + 20) * 3);
  const input = new Uint8Array(
    await sharp(raw, { raw: { width: 32, height: 32, channels: 3 } })
      .png()
      .toBuffer(),
  );

  const first = t.spawnWorker();
  const inverted = await createJob(t.stack, {
    kind: 'invert',
    image: { base64: base64(input) },
    prompt: 'star',
    steps: 20,
  });
  const invertDone = await waitForJob(t.stack, inverted.id);
  expect(invertDone.status, JSON.stringify(invertDone.error)).toBe('succeeded');
  expect(await first.stop()).toBe(0);

  const second = t.spawnWorker();
  const sampled = await createJob(t.stack, { kind: 'sample', noise: { jobId: inverted.id }, prompt: 'star' });
  const sampleDone = await waitForJob(t.stack, sampled.id);
  expect(await second.stop()).toBe(0);
  expect(sampleDone.status, JSON.stringify(sampleDone.error)).toBe('succeeded');
  // Sampled back in the field it was inverted in, on the same hardware: the job measures its round trip.
  expect(sampleDone.metrics?.latentMaxAbsError).toBeLessThanOrEqual(1e-12);
  expect(sampleDone.metrics?.noiseEpsDrift).toBeUndefined();

  const latent = (await decodeImage(input, { size: [32, 32] })).data;
  const { state } = readNoiseArtifact(await download(sampleDone.outputs!.noise!.url));
  expect(state.kind).toBe('pair');
  const x0 = state.kind === 'pair' ? state.lower : new Float64Array();
  let maxAbs = 0;
  for (let i = 0; i < latent.length; i++) maxAbs = Math.max(maxAbs, Math.abs(x0[i]! - latent[i]!));
  expect(maxAbs).toBeLessThanOrEqual(1e-8);

  const output = await download(sampleDone.outputs!.image!.url);
  expect(Buffer.compare(await sharp(output).raw().toBuffer(), raw)).toBe(0);
});

/**
 * Exactness is a property of the hardware: an artifact says where its eps were computed, and one made on other
 * hardware is still used, but the job says so (hardwareMatch false) and measures what it can instead of assuming
 * it: the drift of its eps from the maker's last one, and the round trip against the x_0 the inversion kept. Its
 * report lists exactly what was measured. (A drift that is really non-zero: packages/worker/test/noiseMeasure.)
 */
test('noise made on another GPU is accepted, and the job says it met other hardware', async () => {
  const worker = t.spawnWorker();
  const png = await demoPng({ shape: 'star', colour: 'yellow', background: 'forest', position: 'left' });
  const inverted = await createJob(t.stack, { kind: 'invert', image: { base64: base64(png) }, steps: 10 });
  const invertDone = await waitForJob(t.stack, inverted.id);
  expect(invertDone.status, JSON.stringify(invertDone.error)).toBe('succeeded');
  const here = { provider: 'cpu', device: cpus()[0]!.model.trim(), onnxruntime: onnxruntimeVersion };
  const made = readNoiseArtifact(await download(invertDone.outputs!.noise!.url));
  expect(made.meta.provenance).toEqual(here);
  // What lets other hardware measure itself: the last eps, at x_{N-1} of the kept pair, and the x_0 inverted from.
  expect(made.lastEps).toMatchObject({ at: 'lower' });
  expect(made.origin).toHaveLength(3 * 32 * 32);

  // The same artifact as if an A10G had made it, under the invert job's own noise key.
  const elsewhere = { provider: 'cuda', device: 'NVIDIA A10G', onnxruntime: onnxruntimeVersion };
  await t.stack.deps.s3.send(
    new PutObjectCommand({
      Bucket: t.stack.deps.config.OBELM_BUCKET,
      Key: s3Keys.jobNoise(t.stack.tenant, inverted.id),
      Body: writeNoiseArtifact({ ...made, meta: { ...made.meta, provenance: elsewhere } }),
    }),
  );
  const sampled = await createJob(t.stack, { kind: 'sample', noise: { jobId: inverted.id }, prompt: '' });
  const sampleDone = await waitForJob(t.stack, sampled.id);
  expect(await worker.stop()).toBe(0);
  expect(sampleDone.status, JSON.stringify(sampleDone.error)).toBe('succeeded');
  expect(sampleDone.metrics).toMatchObject({ hardwareMatch: false, noiseHardware: elsewhere });
  // Measured, not assumed: 0 here, since it is really this CPU.
  const { noiseEpsDrift, latentMaxAbsError } = sampleDone.metrics!;
  expect(noiseEpsDrift).toBeGreaterThanOrEqual(0);
  expect(latentMaxAbsError).toBeLessThanOrEqual(1e-12);
  const report = JSON.parse(Buffer.from(await download(sampleDone.outputs!.report!.url)).toString());
  expect(report).toMatchObject({
    hardware: here,
    metrics: { hardwareMatch: false, noiseHardware: elsewhere, noiseEpsDrift, latentMaxAbsError },
    measured: ['latentMaxAbsError', 'noiseEpsDrift'],
  });
  // What it writes records this worker's hardware, not the input's.
  expect(readNoiseArtifact(await download(sampleDone.outputs!.noise!.url)).meta.provenance).toEqual(here);
});

/** Max |a - b| over two latents. */
const maxAbsDiff = (a: Float64Array, b: Float64Array) => {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
};

/**
 * A sample job's kept pair (x_1, x_0) inverts back to its starting noise exactly (docs/math.md §4): sampling
 * again from that inversion gives the same PNG bytes. An edit of the generated image starts from the same
 * pair.
 */
test("invert a sample job's kept pair: sampling it again gives the same image; editing it changes the colour", async () => {
  const worker = t.spawnWorker();
  const prompt = 'red circle';
  const first = await waitForJob(t.stack, (await createJob(t.stack, { kind: 'sample', prompt, seed: 5 })).id);
  expect(first.status, JSON.stringify(first.error)).toBe('succeeded');

  const [inverted, edited] = await Promise.all(
    [
      { kind: 'invert', noise: { jobId: first.id } },
      { kind: 'edit', noise: { jobId: first.id }, targetPrompt: 'blue circle' },
    ].map(async (body) => waitForJob(t.stack, (await createJob(t.stack, body)).id)),
  );
  expect(inverted!.status, JSON.stringify(inverted!.error)).toBe('succeeded');
  expect(inverted!.params).toMatchObject({
    prompt,
    steps: first.params.steps,
    guidance: first.params.guidance,
  });
  const again = await waitForJob(
    t.stack,
    (await createJob(t.stack, { kind: 'sample', noise: { jobId: inverted!.id }, prompt })).id,
  );
  expect(again.status, JSON.stringify(again.error)).toBe('succeeded');

  const { state: start } = readNoiseArtifact(await download(inverted!.outputs!.noise!.url));
  // Its x_N is the seeded noise the sample job started from (the engine's generator, rebuilt here).
  expect(start).toMatchObject({ kind: 'pair', index: first.params.steps });
  const xN = start.kind === 'pair' ? start.upper : new Float64Array();
  const seed = first.params.kind === 'sample' ? first.params.seed : undefined;
  expect(maxAbsDiff(xN, gaussianNoise(seed!, xN.length))).toBeLessThanOrEqual(1e-8);
  const lower = async (job: typeof first) => {
    const { state } = readNoiseArtifact(await download(job.outputs!.noise!.url));
    return state.kind === 'pair' ? state.lower : new Float64Array();
  };
  expect(maxAbsDiff(await lower(again), await lower(first))).toBeLessThanOrEqual(1e-8);
  const [png, pngAgain] = await Promise.all([first, again].map((job) => download(job.outputs!.image!.url)));
  expect(Buffer.compare(pngAgain!, png!)).toBe(0);

  // The edit: where the generated circle was red, it is blue now.
  expect(edited!.status, JSON.stringify(edited!.error)).toBe('succeeded');
  const before = await sharp(png!).raw().toBuffer();
  const after = await sharp(await download(edited!.outputs!.image!.url))
    .raw()
    .toBuffer();
  const circle = [...Array(32 * 32).keys()].filter((p) => before[3 * p]! > before[3 * p + 2]! + 100);
  expect(circle.length).toBeGreaterThan(20);
  const mean = (px: Buffer, c: number) => circle.reduce((s, p) => s + px[3 * p + c]!, 0) / circle.length;
  expect(mean(after, 2)).toBeGreaterThan(mean(after, 0) + 50);
  expect(await worker.stop()).toBe(0);
});
