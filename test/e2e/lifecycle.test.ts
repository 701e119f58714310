import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { s3Keys } from '@obelm/core';
import { DEMO_BUNDLE_ID, MANIFEST_FILE } from '@obelm/models';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { api, createJob, download, startTestStack, type TestStack, waitForJob } from './helpers.ts';

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
