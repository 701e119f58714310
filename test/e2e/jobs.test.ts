import { crc32 } from 'node:zlib';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { errorMapColour } from '../../packages/worker/src/job/errorMap.ts';
import {
  api,
  base64,
  createJob,
  demoPng,
  download,
  startTestStack,
  type TestStack,
  type WorkerProcess,
  waitForJob,
} from './helpers.ts';

let t: TestStack;
let worker: WorkerProcess;
let redCircle: Uint8Array;

beforeAll(async () => {
  t = await startTestStack();
  worker = t.spawnWorker();
  redCircle = await demoPng({ shape: 'circle', colour: 'red' });
});
afterAll(async () => {
  await worker?.stop();
  await t?.stop();
});

/** Mean RGB of the pixels where `mask` holds, from raw RGB bytes. */
function meanColour(rgb: Buffer, mask: (p: number) => boolean): [number, number, number] {
  const sum = [0, 0, 0];
  let n = 0;
  for (let p = 0; p < rgb.length / 3; p++) {
    if (!mask(p)) continue;
    for (let c = 0; c < 3; c++) sum[c]! += rgb[p * 3 + c]!;
    n++;
  }
  return [sum[0]! / n, sum[1]! / n, sum[2]! / n];
}

test('edit an uploaded image: red circle -> blue circle, the background stays', async () => {
  const upload = await api<{ uploadId: string; url: string; fields: Record<string, string> }>(
    t.stack,
    'POST',
    '/v1/uploads',
    { contentType: 'image/png' },
  );
  expect(upload.status).toBe(201);
  const form = new FormData();
  for (const [k, v] of Object.entries(upload.body.fields)) form.append(k, v);
  form.append('file', new Blob([redCircle], { type: 'image/png' }));
  const posted = await fetch(upload.body.url, { method: 'POST', body: form });
  expect(posted.status).toBeLessThan(300);

  const job = await createJob(t.stack, {
    kind: 'edit',
    image: { uploadId: upload.body.uploadId },
    sourcePrompt: 'red circle',
    targetPrompt: 'blue circle',
  });
  const done = await waitForJob(t.stack, job.id);
  expect(done.status, JSON.stringify(done.error)).toBe('succeeded');
  expect(done.metrics?.gpuMs).toBeGreaterThan(0);
  expect(done.metrics?.queueMs).toBeGreaterThanOrEqual(0);
  // Edit at the demo's 20 steps and strength 0.5: 10 inversion + 10 sampling steps, all done.
  expect(done.progress).toEqual({ step: 20, of: 20 });

  const before = await sharp(redCircle).raw().toBuffer();
  const after = await sharp(await download(done.outputs!.image!.url))
    .raw()
    .toBuffer();
  // The centre pixel (inside the circle) turns from red to blue; a corner (background) stays navy.
  const centre = (p: number) => Math.hypot((p % 32) - 16, Math.floor(p / 32) - 16) < 4;
  const corner = (p: number) => p % 32 < 3 && p < 32 * 3;
  const [r0, , b0] = meanColour(before, centre);
  const [r1, , b1] = meanColour(after, centre);
  expect(r0).toBeGreaterThan(b0);
  expect(b1).toBeGreaterThan(r1 + 50);
  const bgBefore = meanColour(before, corner);
  const bgAfter = meanColour(after, corner);
  for (let c = 0; c < 3; c++) expect(Math.abs(bgAfter[c]! - bgBefore[c]!)).toBeLessThan(8);

  const report = JSON.parse(new TextDecoder().decode(await download(done.outputs!.report!.url)));
  expect(report.settings.freeze).toBeGreaterThan(0);
  expect(report.steps.length).toBeGreaterThan(0);
});

/** The pixels of an error map PNG as RGB triples, after checking it is the demo latent's 32 x 32. */
async function errorMapPixels(url: string): Promise<number[][]> {
  const { data, info } = await sharp(await download(url))
    .raw()
    .toBuffer({ resolveWithObject: true });
  expect([info.format, info.width, info.height, info.channels]).toEqual(['raw', 32, 32, 3]);
  return Array.from({ length: 32 * 32 }, (_, p) => [...data.subarray(3 * p, 3 * p + 3)]);
}

test('reconstruct reports its exactness and maps it; interpolate returns one image per weight', async () => {
  const square = await demoPng({ shape: 'square', colour: 'green', background: 'forest', position: 'right' });
  const [rec, ddim, interp] = await Promise.all([
    createJob(t.stack, { kind: 'reconstruct', image: { base64: base64(redCircle) } }),
    createJob(t.stack, {
      kind: 'reconstruct',
      image: { base64: base64(redCircle) },
      sampler: { name: 'ddim' },
      steps: 10,
    }),
    createJob(t.stack, {
      kind: 'interpolate',
      images: [{ base64: base64(redCircle) }, { base64: base64(square) }],
      weights: [0, 0.5, 1],
      steps: 10,
    }),
  ]);
  const recDone = await waitForJob(t.stack, rec.id);
  expect(recDone.status, JSON.stringify(recDone.error)).toBe('succeeded');
  expect(recDone.metrics?.latentMaxAbsError).toBeLessThanOrEqual(1e-8);
  expect(recDone.metrics?.pixelMse).toBeLessThan(1e-12);
  const reconstructed = await sharp(await download(recDone.outputs!.image!.url))
    .raw()
    .toBuffer();
  expect(Buffer.compare(reconstructed, await sharp(redCircle).raw().toBuffer())).toBe(0);

  // The error maps: O-BELM's is at most the colour of 1e-8 everywhere (the ramp brightens with the error);
  // DDIM's, an inexact sampler's, is brighter somewhere.
  const ddimDone = await waitForJob(t.stack, ddim.id);
  expect(ddimDone.status, JSON.stringify(ddimDone.error)).toBe('succeeded');
  expect(ddimDone.metrics?.latentMaxAbsError).toBeGreaterThan(1e-4);
  const brightness = ([r, g, b]: readonly number[]) => 0.2126 * r! + 0.7152 * g! + 0.0722 * b!;
  const bound = brightness(errorMapColour(1e-8));
  const [exact, inexact] = await Promise.all(
    [recDone, ddimDone].map(async (done) => {
      expect(done.outputs?.errorMap?.scale).toEqual({ min: 1e-16, max: 1 });
      return (await errorMapPixels(done.outputs!.errorMap!.url)).map(brightness);
    }),
  );
  expect(Math.max(...exact!)).toBeLessThanOrEqual(bound);
  expect(Math.max(...inexact!)).toBeGreaterThan(bound);

  const interpDone = await waitForJob(t.stack, interp.id);
  expect(interpDone.status, JSON.stringify(interpDone.error)).toBe('succeeded');
  expect(interpDone.outputs?.images).toHaveLength(3);
  for (const link of interpDone.outputs!.images!) {
    expect((await sharp(await download(link.url)).metadata()).width).toBe(32);
  }
});

describe('every sampler', () => {
  for (const sampler of [
    { name: 'obelm' },
    { name: 'ddim' },
    { name: 'bdia', gamma: 0.96 },
    { name: 'edict' },
  ]) {
    test(`${sampler.name}: sample from a seed twice gives the same bytes`, async () => {
      const request = { kind: 'sample', prompt: 'purple ring', seed: 7, steps: 10, sampler };
      const jobs = await Promise.all([createJob(t.stack, request), createJob(t.stack, request)]);
      const done = await Promise.all(jobs.map((j) => waitForJob(t.stack, j.id)));
      for (const d of done) expect(d.status, JSON.stringify(d.error)).toBe('succeeded');
      const [a, b] = await Promise.all(done.map((d) => download(d.outputs!.image!.url)));
      expect(Buffer.compare(a!, b!)).toBe(0);
    });
  }
});

test('an image the worker cannot decode fails the job with invalid_image', async () => {
  // A PNG whose chunks are well formed (it passes the API's header check: format, size, IEND at the end) but
  // whose compressed pixel data is garbage: only decoding finds that, in the worker.
  const png = Buffer.from(
    await sharp({ create: { width: 32, height: 32, channels: 3, background: '#c33' } })
      .png()
      .toBuffer(),
  );
  const idat = png.indexOf('IDAT');
  const length = png.readUInt32BE(idat - 4);
  png.fill(0x55, idat + 4, idat + 4 + length);
  png.writeUInt32BE(crc32(png.subarray(idat, idat + 4 + length)), idat + 4 + length);
  const job = await createJob(t.stack, { kind: 'invert', image: { base64: base64(png) } });
  const done = await waitForJob(t.stack, job.id);
  expect(done.status).toBe('failed');
  expect(done.error?.code).toBe('invalid_image');
});
