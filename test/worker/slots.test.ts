import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type JobView, loadConfig, WorkerConfigSchema } from '@obelm/core';
import type { DiffusionModel } from '@obelm/engine';
import { type LocalStack, startLocalStack } from '@obelm/local';
import { ensureDemoBundle } from '@obelm/models';
import { loadModelBundle, type ModelLoader, type RunningWorker, startWorker } from '@obelm/worker';
import { afterAll, afterEach, beforeAll, expect, test } from 'vitest';
import { api, createJob, getJob, TEST_WORKER_ENV, waitForJob } from '../e2e/helpers.ts';
import { outputsOf, readItem } from '../reliability/helpers.ts';

/**
 * One worker process runs several jobs at once (OBELM_WORKER_SLOTS), their eps calls merged by the model's
 * batcher, and prefetches one more: every job still ends once, with the bytes of a run alone, whatever happens
 * to the others (a cancel, a stop).
 */

/** Guided (2 rows a call), on one grid, so the jobs can share every model call. */
const requests = [
  { prompt: 'red circle', seed: 1 },
  { prompt: 'blue square', seed: 2 },
  { prompt: 'green triangle', seed: 3 },
  { prompt: 'white cross', seed: 4 },
  { prompt: 'red square', seed: 5 },
  { prompt: 'blue circle', seed: 6 },
].map((r) => ({ kind: 'sample', steps: 20, guidance: 3, ...r }));

interface BatchReport {
  attempt: number;
  resumedFrom?: { step: number };
  batching: {
    mode: string;
    maxBatchRows: number;
    calls: number;
    meanCallRows: number;
    maxCallMembers: number;
  };
}

let t: { stack: LocalStack; workerEnv: Record<string, string> };
let dataDir: string;
/** Each request's outputs from a worker with one slot: every job alone in the model. */
const alone: JobView[] = [];
let worker: RunningWorker | undefined;

/** A demo model whose eps calls wait while the gate is shut: the jobs let in meanwhile all queue at the batcher. */
function gatedDemo(config: ReturnType<typeof workerConfig>) {
  let gate = Promise.resolve();
  let openGate = () => {};
  const loader: ModelLoader = async (id) => {
    const model = await loadModelBundle(id, config);
    const gated: DiffusionModel = {
      id: model.id,
      schedule: model.schedule,
      defaults: model.defaults,
      latentShape: model.latentShape,
      imageSize: model.imageSize,
      encode: model.encode.bind(model),
      decode: model.decode.bind(model),
      embed: model.embed.bind(model),
      eps: async (x, t, emb, signal) => {
        await gate;
        return model.eps(x, t, emb, signal);
      },
    };
    return gated;
  };
  return {
    loader,
    shut: () => {
      gate = new Promise((resolve) => (openGate = resolve));
    },
    open: () => openGate(),
  };
}

const workerConfig = (env: Record<string, string> = {}) =>
  loadConfig(WorkerConfigSchema, { ...t.workerEnv, ...env });

const submitAll = (list: readonly object[]) => Promise.all(list.map((r) => createJob(t.stack, r)));

async function expectLikeAlone(job: JobView, index: number) {
  expect(job.status, JSON.stringify(job.error)).toBe('succeeded');
  const [got, want] = await Promise.all([outputsOf(job), outputsOf(alone[index]!)]);
  expect(got.image.equals(want.image)).toBe(true);
  expect(got.noise.equals(want.noise)).toBe(true);
  return got.report as unknown as BatchReport;
}

/** Until every job is claimed (running) and, the gate shut, queued at the batcher. */
async function allClaimed(jobs: readonly JobView[]) {
  await Promise.all(jobs.map((job) => waitForJob(t.stack, job.id, ['running'])));
  await new Promise((resolve) => setTimeout(resolve, 300)); // the claimed jobs' embed calls, then their eps
}

let gated: ReturnType<typeof gatedDemo>;

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'obelm-slots-'));
  const modelCache = join(dataDir, 'models');
  await ensureDemoBundle(modelCache);
  // Room for all the requests at once: the dev tenant's parallelJobs (4 by default) would hold the rest.
  const limits = { requestsPerSecond: 1000, parallelJobs: requests.length };
  const stack = await startLocalStack({
    dataDir,
    port: 0,
    worker: false,
    serviceEnv: { OBELM_TENANT_LIMITS: JSON.stringify(limits) },
  });
  t = { stack, workerEnv: { ...stack.env, ...TEST_WORKER_ENV, OBELM_MODEL_CACHE: modelCache } };
  Object.assign(process.env, t.stack.env);
  const one = startWorker(workerConfig({ OBELM_WORKER_SLOTS: '1' }));
  try {
    alone.push(...(await Promise.all((await submitAll(requests)).map((j) => waitForJob(t.stack, j.id)))));
  } finally {
    await one.stop();
  }
  for (const [n, job] of alone.entries()) {
    const report = (await outputsOf(job)).report as unknown as BatchReport;
    expect(job.status, JSON.stringify(job.error)).toBe('succeeded');
    expect(report.batching.maxCallMembers, `job ${n}`).toBe(1); // one slot: no call shared
  }
  // The gated model loaded and its batcher's invariance check run, the gate open: later tests shut it.
  gated = gatedDemo(workerConfig());
  const warm = startWorker(workerConfig(), { loadModel: gated.loader });
  try {
    expect((await waitForJob(t.stack, (await createJob(t.stack, requests[0]!)).id)).status).toBe('succeeded');
  } finally {
    await warm.stop();
  }
}, 60_000);
afterEach(async () => {
  gated?.open();
  await worker?.stop();
  worker = undefined;
});
afterAll(async () => {
  await t?.stack.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

test('jobs in flight together share model calls and end with the bytes of runs alone', async () => {
  worker = startWorker(workerConfig(), { loadModel: gated.loader });
  gated.shut();
  const jobs = await submitAll(requests);
  await allClaimed(jobs);
  gated.open();
  const done = await Promise.all(jobs.map((job) => waitForJob(t.stack, job.id)));
  const reports = await Promise.all(done.map(expectLikeAlone));
  for (const report of reports) expect(report.batching).toMatchObject({ mode: 'batched', maxBatchRows: 16 });
  // The calls were shared: all of them met at the batcher while the gate was shut.
  expect(Math.max(...reports.map((r) => r.batching.maxCallMembers))).toBeGreaterThanOrEqual(
    requests.length - 1,
  );
});

test('jobs waiting in the queue together enter the model together: every call of every job is full', async () => {
  const jobs = await submitAll(requests); // no worker yet: they wait together, as a backlog does
  // A long hold, so that the test does not depend on how fast this machine claims: the bound is unit-tested.
  worker = startWorker(workerConfig({ OBELM_ADMISSION_HOLD_MS: '10000' }));
  const done = await Promise.all(jobs.map((job) => waitForJob(t.stack, job.id)));
  const reports = await Promise.all(done.map(expectLikeAlone));
  for (const report of reports) {
    // One receive, one group: the first call already had all of them (2 guided rows each), and so had the rest.
    expect(report.batching.maxCallMembers).toBe(requests.length);
    expect(report.batching.meanCallRows).toBe(2 * requests.length);
  }
});

test('a job canceled while in flight with others ends canceled; the others end as if alone', async () => {
  worker = startWorker(workerConfig(), { loadModel: gated.loader });
  gated.shut();
  const jobs = await submitAll(requests.slice(0, 4));
  await allClaimed(jobs);
  const victim = jobs[1]!;
  expect((await api(t.stack, 'POST', `/v1/jobs/${victim.id}/cancel`)).status).toBeLessThan(300);
  // Seen at its next heartbeat: its eps call leaves the batcher, the gate still shut for the others.
  expect((await waitForJob(t.stack, victim.id)).status).toBe('canceled');
  gated.open();
  const done = await Promise.all(jobs.map((job) => waitForJob(t.stack, job.id)));
  for (const [n, job] of done.entries()) if (n !== 1) await expectLikeAlone(job, n);
});

test('stop() checkpoints the jobs in the model that cannot finish, hands back the prefetched one; all end once', async () => {
  // Two slots, slow steps, little grace: two jobs in the model, the third claimed and prefetched.
  worker = startWorker(
    workerConfig({
      OBELM_WORKER_SLOTS: '2',
      OBELM_TEST_STEP_DELAY_MS: '100',
      OBELM_STOP_GRACE_SECONDS: '0.3',
    }),
  );
  const jobs = await submitAll(requests.slice(0, 3));
  const stepped = (job: JobView) => (job.progress?.step ?? 0) > 0;
  const views = async () => Promise.all(jobs.map((job) => getJob(t.stack, job.id)));
  for (;;) {
    const now = await views();
    if (now.filter(stepped).length === 2 && now.every((j) => j.status === 'running')) break;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const inModel = (await views()).map(stepped);
  await worker.stop();
  worker = undefined;

  for (const [n, job] of jobs.entries()) {
    const item = await readItem(t.stack, job.id);
    expect(item.status).toBe('queued');
    expect(item.attempts).toBe(0); // given back: a stop is not the job's fault
    if (inModel[n]) expect(item.checkpoint?.step).toBeGreaterThan(0);
    else expect(item.checkpoint).toBeUndefined(); // prefetched, never started: back as it came
  }

  worker = startWorker(workerConfig(), { loadModel: gated.loader });
  const done = await Promise.all(jobs.map((job) => waitForJob(t.stack, job.id)));
  for (const [n, job] of done.entries()) {
    const report = await expectLikeAlone(job, n);
    expect(report.attempt).toBe(1);
    expect(report.resumedFrom !== undefined).toBe(inModel[n]);
  }
});
