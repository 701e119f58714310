import { decodeImage, readNoiseArtifact } from '@obelm/models';
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
 * the input. Measured twice: the sample's final state x_0 against the input's latent (the demo is pixel
 * space, so the latent is the decoded pixels), and the output PNG's pixels against the input's, exactly.
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
