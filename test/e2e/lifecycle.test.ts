import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { GetObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { s3Keys } from '@obelm/core';
import { DEMO_BUNDLE_ID, MANIFEST_FILE, readNoiseArtifact } from '@obelm/models';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { expectSucceededLike, outputsOf, readItem } from '../reliability/helpers.ts';
import {
  api,
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

const slow = (ms: number) => ({ OBELM_TEST_STEP_DELAY_MS: String(ms) });
const request = { kind: 'sample', prompt: 'white cross', seed: 11, steps: 60 };

test('cancel a running job -> canceled', async () => {
  const worker = t.spawnWorker({ ...slow(50) });
  try {
    const job = await createJob(t.stack, request);
    await waitForJob(t.stack, job.id, ['running'], 30_000, (j) => (j.progress?.step ?? 0) > 0);
    expect((await api(t.stack, 'POST', `/v1/jobs/${job.id}/cancel`)).status).toBeLessThan(300);
    const done = await waitForJob(t.stack, job.id);
    expect(done.status).toBe('canceled');
    expect(done.outputs?.image).toBeUndefined();
  } finally {
    await worker.stop();
  }
});

test('SIGTERM mid-job checkpoints it; a second worker finishes with the bytes of an uninterrupted run', async () => {
  // Reference: the same job, uninterrupted.
  const reference = t.spawnWorker();
  const ref = await waitForJob(t.stack, (await createJob(t.stack, request)).id);
  await reference.stop();
  expect(ref.status, JSON.stringify(ref.error)).toBe('succeeded');

  // A slow worker with no grace period: stopped halfway, it must checkpoint instead of finishing.
  const first = t.spawnWorker({ ...slow(40), OBELM_STOP_GRACE_SECONDS: '0' });
  const job = await createJob(t.stack, request);
  await waitForJob(t.stack, job.id, ['running'], 30_000, (j) => (j.progress?.step ?? 0) >= 20);
  expect(await first.stop()).toBe(0);
  const parked = await waitForJob(t.stack, job.id, ['queued']);
  expect(parked.status).toBe('queued');

  const second = t.spawnWorker();
  const done = await waitForJob(t.stack, job.id);
  await second.stop();
  expect(done.status, JSON.stringify(done.error)).toBe('succeeded');

  const report = JSON.parse(new TextDecoder().decode(await download(done.outputs!.report!.url)));
  expect(report.resumedFrom.step).toBeGreaterThanOrEqual(20);
  const [a, b] = await Promise.all([download(ref.outputs!.image!.url), download(done.outputs!.image!.url)]);
  expect(Buffer.compare(a, b)).toBe(0);
  const [na, nb] = await Promise.all([download(ref.outputs!.noise!.url), download(done.outputs!.noise!.url)]);
  expect(Buffer.compare(na, nb)).toBe(0);

  // The checkpoint objects were removed once the job succeeded; its outputs stay.
  const listed = await t.stack.deps.s3.send(
    new ListObjectsV2Command({
      Bucket: t.stack.deps.config.OBELM_BUCKET,
      Prefix: s3Keys.jobPrefix(t.stack.tenant, job.id),
    }),
  );
  const names = (listed.Contents ?? []).map((o) => o.Key!.split('/').at(-1));
  expect(names).toContain('report.json');
  expect(names.filter((name) => name?.startsWith('checkpoint'))).toEqual([]);
});

/** An object of the stack's bucket, read directly (a checkpoint: the API shows none). */
async function readObject(key: string): Promise<Uint8Array> {
  const got = await t.stack.deps.s3.send(
    new GetObjectCommand({ Bucket: t.stack.deps.config.OBELM_BUCKET, Key: key }),
  );
  return got.Body!.transformToByteArray();
}

test("SIGTERM in the second stage of an edit: resumed there from S3, with the first stage's end state, same bytes", async () => {
  // 40 steps at strength 0.5: stage 0 inverts 20 steps, stage 1 samples 20; progress counts 40 in all.
  const image = base64(await demoPng({ shape: 'circle', colour: 'red' }));
  const edit = {
    kind: 'edit',
    image: { base64: image },
    targetPrompt: 'blue circle',
    steps: 40,
    strength: 0.5,
  };
  const invertSteps = 20;
  const total = 40;

  // A slow worker with no grace period, stopped once progress is past the inversion: stage 1 must checkpoint.
  // Progress is written at most every 500 ms; 100 ms a step leaves stage 1 2 s to be seen and stopped in.
  const first = t.spawnWorker({ ...slow(100), OBELM_STOP_GRACE_SECONDS: '0' });
  const job = await createJob(t.stack, edit);
  const seen = await waitForJob(
    t.stack,
    job.id,
    ['running'],
    30_000,
    (j) => (j.progress?.step ?? 0) > invertSteps,
  );
  expect(await first.stop()).toBe(0);
  expect((await waitForJob(t.stack, job.id, ['queued'])).status).toBe('queued');
  const parked = (await readItem(t.stack, job.id)).checkpoint;
  expect(parked).toMatchObject({
    stage: 1,
    completedKeys: [s3Keys.jobCheckpointStage(t.stack.tenant, job.id, 0)],
  });
  expect(parked!.step).toBeGreaterThanOrEqual(seen.progress!.step);
  expect(parked!.step).toBeLessThan(total);
  expect(parked!.key).toBe(s3Keys.jobCheckpointAt(t.stack.tenant, job.id, parked!.step));
  // Read now: the checkpoint objects are deleted once the job succeeds.
  const stage0 = readNoiseArtifact(await readObject(parked!.completedKeys[0]!));

  // A fresh worker resumes it; then runs the reference, the same edit uninterrupted.
  const second = t.spawnWorker();
  const done = await waitForJob(t.stack, job.id);
  const reference = await waitForJob(t.stack, (await createJob(t.stack, edit)).id);
  await second.stop();
  expect(reference.status, JSON.stringify(reference.error)).toBe('succeeded');
  expect(reference.progress).toEqual({ step: total, of: total });

  // Same image and noise bytes as the reference, no checkpoint object left, no checkpoint on the item.
  const { report } = await expectSucceededLike(t.stack, done, reference);
  expect(report.resumedFrom).toEqual({ stage: 1, step: parked!.step });
  // The resumed run did only the rest of stage 1: not stage 0 again, nor stage 1 from its start.
  const { steps } = report as unknown as { steps: { stage: number; direction: string; step: number }[] };
  expect(steps.map((s) => [s.stage, s.direction, s.step])).toEqual(
    Array.from({ length: total - parked!.step }, (_, n) => [1, 'sample', parked!.step + 1 + n]),
  );
  // The saved stage-0 end state is the edit's partial inversion: the reference's noise artifact, eps included.
  const referenceNoise = readNoiseArtifact((await outputsOf(reference)).noise);
  expect(stage0.state).toEqual(referenceNoise.state);
  expect(stage0.lastEps).toBeDefined();
  expect(stage0.lastEps).toEqual(referenceNoise.lastEps);
});

test('a model bundle that cannot be loaded fails the job with model_error', async () => {
  // A worker whose model cache holds a corrupt demo bundle (as if a bundle sync was cut short).
  const cache = join(t.stack.dataDir, 'broken-models');
  mkdirSync(join(cache, DEMO_BUNDLE_ID), { recursive: true });
  writeFileSync(join(cache, DEMO_BUNDLE_ID, MANIFEST_FILE), '{ not json');
  const worker = t.spawnWorker({ OBELM_MODEL_CACHE: cache });
  try {
    const job = await createJob(t.stack, { kind: 'sample', seed: 1, steps: 4 });
    const done = await waitForJob(t.stack, job.id);
    expect(done.status).toBe('failed');
    expect(done.error?.code).toBe('model_error');
    expect(done.error?.message).toMatch(/could not be loaded/);
  } finally {
    await worker.stop();
  }
});
