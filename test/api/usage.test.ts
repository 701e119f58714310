import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import {
  billFor,
  type JobView,
  ModelListSchema,
  type PriceTable,
  priceOf,
  s3Keys,
  type Usage,
  type UsageEntry,
  UsageSchema,
  usageMonth,
} from '@obelm/core';
import { type LocalStack, startLocalStack } from '@obelm/local';
import { ensureDemoBundle } from '@obelm/models';
import { monthUsage } from '@obelm/store';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { base64, demoPng, spawnWorker, TEST_WORKER_ENV, type WorkerProcess } from '../e2e/helpers.ts';
import { addApiKey, call } from './helpers.ts';

/**
 * Usage, prices and deleting a job's data through the local stack: the usage endpoint sums exactly what the job
 * views show as billed, GET /v1/models shows the stage's prices, and DELETE /v1/jobs/{id} removes a job's
 * objects while its tombstone and usage entry stay.
 */

/** A stage's price table: the demo priced high enough that a few milliseconds show in the amount. */
const PRICES: PriceTable = {
  currency: 'EUR',
  default: { perGpuSecondMicros: 1, perJobMicros: 1 },
  models: { demo: { perGpuSecondMicros: 900_000, perJobMicros: 2500 } },
};

let stack: LocalStack;
let dataDir: string;
let worker: WorkerProcess | undefined;

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'obelm-usage-'));
  const modelCache = join(dataDir, 'models');
  await ensureDemoBundle(modelCache);
  stack = await startLocalStack({
    dataDir,
    port: 0,
    worker: false,
    serviceEnv: { OBELM_PRICES: JSON.stringify(PRICES), OBELM_OUTPUT_RETENTION_DAYS: '7' },
  });
  // One worker, a little slowed (20 ms a step) so that a longer job is seen running.
  worker = spawnWorker({
    ...stack.env,
    ...TEST_WORKER_ENV,
    OBELM_MODEL_CACHE: modelCache,
    OBELM_TEST_STEP_DELAY_MS: '20',
  });
});
afterAll(async () => {
  worker?.child.kill('SIGKILL');
  await stack?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

async function created(body: object, key?: string): Promise<JobView> {
  const res = await call(stack, 'POST', '/v1/jobs', { body, ...(key ? { key } : {}) });
  expect(res.status, JSON.stringify(res.body)).toBe(202);
  return res.body as JobView;
}

/** Polls the job's view until `done` holds. */
async function until(id: string, done: (job: JobView) => boolean, timeoutMs = 30_000): Promise<JobView> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const job = (await call(stack, 'GET', `/v1/jobs/${id}`)).body as JobView;
    if (done(job)) return job;
    if (Date.now() > deadline) throw new Error(`job ${id}: ${JSON.stringify(job)}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
const ended = (id: string) => until(id, (job) => job.finishedAt !== undefined);

async function usageOf(month: string, key?: string): Promise<Usage> {
  const res = await call(stack, 'GET', `/v1/usage?month=${month}`, key ? { key } : {});
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return UsageSchema.parse(res.body);
}

/** A job's usage entry, once written: just after its end, by whoever ended it (store outbox.ts). */
async function entryOf(job: JobView): Promise<UsageEntry> {
  const month = usageMonth(new Date(job.finishedAt!));
  const deadline = Date.now() + 10_000;
  for (;;) {
    const entries = await monthUsage(stack.deps.store, stack.tenant, month);
    const entry = entries.find((e) => e.jobId === job.id);
    if (entry) return entry;
    if (Date.now() > deadline) throw new Error(`job ${job.id}: no usage entry`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('usage', () => {
  let views: JobView[] = [];

  beforeAll(async () => {
    const image = base64(await demoPng({ shape: 'circle', colour: 'red' }));
    const jobs = [
      await created({ kind: 'sample', prompt: 'red circle', seed: 1, steps: 4 }),
      await created({ kind: 'sample', prompt: 'blue square', seed: 2, steps: 6 }),
      await created({ kind: 'invert', image: { base64: image }, steps: 4 }),
      await created({ kind: 'invert', image: { base64: image }, steps: 100 }),
    ];
    // The last is canceled while it runs: billed for its steps, without the job fee.
    await until(jobs[3]!.id, (job) => (job.progress?.step ?? 0) >= 3);
    expect((await call(stack, 'POST', `/v1/jobs/${jobs[3]!.id}/cancel`)).status).toBe(200);
    views = await Promise.all(jobs.map((job) => ended(job.id)));
    expect(views.map((v) => v.status)).toEqual(['succeeded', 'succeeded', 'succeeded', 'canceled']);
  });

  it("shows each ended job's bill in its view, at the stage's price of its model", () => {
    const price = priceOf(PRICES, 'demo');
    for (const view of views) {
      const billing = view.billing!;
      expect(billing.gpuMs, view.id).toBeGreaterThan(0);
      const at = new Date(view.finishedAt!);
      expect(billing).toEqual({
        ...billFor(price, view.status as 'succeeded', billing.gpuMs, at),
        month: undefined,
      });
      expect(billing.currency).toBe('EUR');
    }
    const canceled = views[3]!.billing!;
    expect(canceled.amountMicros).toBe(Math.ceil((canceled.gpuMs * 900_000) / 1000));
  });

  it('sums to exactly the job views, in total and by model, kind and status', async () => {
    const month = usageMonth(new Date(views[0]!.finishedAt!));
    await Promise.all(views.map(entryOf));
    const usage = await usageOf(month);
    const sum = (list: JobView[]) => ({
      jobs: list.length,
      gpuMs: list.reduce((n, v) => n + v.billing!.gpuMs, 0),
      amountMicros: list.reduce((n, v) => n + v.billing!.amountMicros, 0),
    });
    const totals = (list: JobView[]) => ({ ...sum(list), gpuSeconds: sum(list).gpuMs / 1000 });
    expect(usage.month).toBe(month);
    expect(usage.currency).toBe('EUR');
    expect(usage.total).toEqual(totals(views));
    expect(usage.byModel).toEqual({ demo: totals(views) });
    expect(usage.byKind).toEqual({
      sample: totals(views.filter((v) => v.kind === 'sample')),
      invert: totals(views.filter((v) => v.kind === 'invert')),
    });
    expect(usage.byStatus).toEqual({
      succeeded: totals(views.slice(0, 3)),
      canceled: totals(views.slice(3)),
    });
    // The default month is this one.
    const now = await call(stack, 'GET', '/v1/usage');
    expect(now.body.month).toBe(usageMonth(new Date()));
  });

  it('is empty for another month, another tenant, and refuses a bad month', async () => {
    const other = await usageOf('2001-02');
    expect(other.total).toEqual({ jobs: 0, gpuMs: 0, gpuSeconds: 0, amountMicros: 0 });
    expect(other.byModel).toEqual({});
    expect(other.resetsAt).toBe('2001-03-01T00:00:00.000Z');

    const stranger = await addApiKey(stack, 'usage-stranger');
    expect((await usageOf(usageMonth(new Date()), stranger)).total.jobs).toBe(0);

    for (const [query, code] of [
      ['month=2026-13', 'invalid_request'],
      ['month=26-01', 'invalid_request'],
      ['period=2026-01', 'unknown_field'],
    ]) {
      const res = await call(stack, 'GET', `/v1/usage?${query}`);
      expect(res.status, query).toBe(400);
      expect(res.body.error.code, query).toBe(code);
    }
  });

  it('counts no request refused at the door', async () => {
    const month = usageMonth(new Date());
    const before = (await usageOf(month)).total.jobs;
    expect((await call(stack, 'POST', '/v1/jobs', { body: { kind: 'sample', steps: 1 } })).status).toBe(400);
    expect((await call(stack, 'POST', '/v1/jobs', { body: { kind: 'nope' } })).status).toBe(400);
    expect((await usageOf(month)).total.jobs).toBe(before);
    const entries = await monthUsage(stack.deps.store, stack.tenant, month);
    expect(entries.length).toBe(before);
  });
});

describe('GET /v1/models', () => {
  it("shows each model's price with its limits", async () => {
    const res = await call(stack, 'GET', '/v1/models');
    expect(res.status).toBe(200);
    const [demo] = ModelListSchema.parse(res.body).models;
    expect(demo).toMatchObject({
      id: 'demo',
      limits: { maxSteps: expect.any(Number) },
      price: { currency: 'EUR', perGpuSecondMicros: 900_000, perJobMicros: 2500 },
    });
  });
});

describe('DELETE /v1/jobs/{id}', () => {
  const objectsOf = async (view: JobView) => {
    const listed = await stack.deps.s3.send(
      new ListObjectsV2Command({
        Bucket: stack.deps.config.OBELM_BUCKET,
        Prefix: s3Keys.jobPrefix(stack.tenant, view.id),
      }),
    );
    return (listed.Contents ?? []).map((o) => o.Key!);
  };

  it("deletes an ended job's inputs and outputs; its tombstone and usage entry stay", async () => {
    const image = base64(await demoPng({ shape: 'circle', colour: 'red' }));
    const job = await ended((await created({ kind: 'invert', image: { base64: image }, steps: 4 })).id);
    expect(job.status).toBe('succeeded');
    // Retention: the day S3's lifecycle rule (7 days after creation, at midnight UTC) has expired every object.
    const expiry = new Date(Date.parse(job.finishedAt!) + 7 * 86_400_000);
    expect(job.outputsExpireAt).toBe(
      new Date(
        Date.UTC(expiry.getUTCFullYear(), expiry.getUTCMonth(), expiry.getUTCDate() + 1),
      ).toISOString(),
    );
    const names = (await objectsOf(job)).map((key) => key.split('/').at(-1));
    expect(names).toEqual(expect.arrayContaining(['input-0', 'report.json', 'noise.safetensors']));
    const noiseUrl = job.outputs!.noise!.url;
    expect((await fetch(noiseUrl)).status).toBe(200);
    const month = usageMonth(new Date(job.finishedAt!));
    const entry = await entryOf(job);
    const usageBefore = await usageOf(month);

    const res = await call(stack, 'DELETE', `/v1/jobs/${job.id}`);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    const tombstone = res.body as JobView;
    expect(tombstone).toMatchObject({ id: job.id, status: 'succeeded', billing: job.billing });
    expect(tombstone.deletedAt).toBeDefined();
    expect(tombstone.outputs).toBeUndefined();
    expect(tombstone.outputsExpireAt).toBeUndefined();
    expect(await objectsOf(job)).toEqual([]);
    expect((await fetch(noiseUrl)).status).toBe(404);
    expect((await call(stack, 'GET', `/v1/jobs/${job.id}`)).body).toEqual(tombstone);
    // Its noise no longer starts a job.
    const reuse = await call(stack, 'POST', '/v1/jobs', {
      body: { kind: 'sample', noise: { jobId: job.id } },
    });
    expect(reuse.body.error.code).toBe('noise_not_ready');
    // Billing stays as it was.
    expect(await usageOf(month)).toEqual(usageBefore);
    expect(await entryOf(job)).toEqual(entry);

    // Idempotent: the same tombstone again.
    const again = await call(stack, 'DELETE', `/v1/jobs/${job.id}`);
    expect(again.status).toBe(200);
    expect(again.body).toEqual(tombstone);
  });

  it("refuses a job that has not ended (409) and another tenant's (404)", async () => {
    const image = base64(await demoPng({ shape: 'square', colour: 'green' }));
    const running = await created({ kind: 'invert', image: { base64: image }, steps: 100 });
    await until(running.id, (job) => job.status === 'running');
    const active = await call(stack, 'DELETE', `/v1/jobs/${running.id}`);
    expect(active.status).toBe(409);
    expect(active.body.error.code).toBe('job_active');
    expect((await objectsOf(running)).length).toBeGreaterThan(0);
    expect((await call(stack, 'POST', `/v1/jobs/${running.id}/cancel`)).status).toBe(200);
    const canceled = await ended(running.id);

    const stranger = await addApiKey(stack, 'delete-stranger');
    const foreign = await call(stack, 'DELETE', `/v1/jobs/${canceled.id}`, { key: stranger });
    expect(foreign.status).toBe(404);
    expect(foreign.body.error.code).toBe('job_not_found');
    expect((await call(stack, 'GET', `/v1/jobs/${canceled.id}`)).body.deletedAt).toBeUndefined();
    expect((await call(stack, 'DELETE', '/v1/jobs/job_does_not_exist')).status).toBe(404);
  });
});
