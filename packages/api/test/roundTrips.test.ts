import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import {
  type CreateJobRequest,
  CreateJobRequestSchema,
  type JobItem,
  JobViewSchema,
  jobTransitions as t,
} from '@obelm/core';
import { queuedJobItem } from '@obelm/core/testing';
import { type LocalStack, startLocalStack } from '@obelm/local';
import { activeCounts, createTenant, JobTable, recordModelPace, tenantLimits } from '@obelm/store';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Deps } from '../src/deps.ts';
import { createJob } from '../src/jobs/create.ts';
import { estimateJob, startDelayMs } from '../src/jobs/eta.ts';
import { toJobView } from '../src/jobs/view.ts';
import { nextReadInMs, waitForJob } from '../src/jobs/wait.ts';

/**
 * The API's round trips against the real stand-ins, DynamoDB calls counted: the waiting GET's reads on the job's
 * schedule, queue place and estimates in the view, the Idempotency-Key claimed before it is read, and inline
 * inputs stored before any item names them.
 */

let stack: LocalStack;
let dir: string;
let calls: string[] = [];
let n = 0;
/** The stack's deps with every DynamoDB command of the job table counted on its way to dynalite. */
let counted: Deps;

const PNG_1X1 =
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII=';

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'obelm-roundtrips-'));
  stack = await startLocalStack({ dataDir: dir, port: 0, worker: false, sweepEverySeconds: 0 });
  const real = stack.deps.db;
  // The real client underneath (the SDK's paginators accept only a DynamoDBDocumentClient), its send counting.
  const db: DynamoDBDocumentClient = Object.assign(Object.create(real), {
    send: (command: { constructor: { name: string } }) => {
      calls.push(command.constructor.name);
      return real.send(command as never);
    },
  });
  const store = { ...stack.deps.store, db, jobs: new JobTable(db, stack.deps.config.OBELM_TABLE) };
  counted = { ...stack.deps, db, store };
});
afterAll(async () => {
  await stack?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function newTenant(): Promise<string> {
  const tenant = `roundtrips-${++n}`;
  await createTenant(stack.deps.store, tenant);
  return tenant;
}

async function putQueued(tenant: string, model: string, at = new Date()): Promise<JobItem> {
  const base = queuedJobItem({ id: `job_rt_${++n}`, tenant }, at);
  const job = { ...base, params: { ...base.params, model } } as JobItem;
  await stack.deps.store.jobs.put(t.create({ ...job, dispatch: 'sent' }));
  return job;
}

/** A measured pace for `model`: one succeeded job of `msPerStep` per step. */
async function measure(model: string, msPerStep: number) {
  const job = queuedJobItem({ id: `job_rt_pace_${++n}`, tenant: 'pace' });
  await recordModelPace(stack.deps.store, {
    ...job,
    params: { ...job.params, model, steps: 10 },
    status: 'succeeded',
    finishedAt: new Date().toISOString(),
    metrics: { runMs: msPerStep * 10 },
  } as JobItem);
}

/**
 * A worker's writes, from the test: claimed after `queuedMs`, a progress write per step of `stepMs`, then the
 * end. Returns when it has ended the job.
 */
async function runLikeAWorker(job: JobItem, queuedMs: number, stepMs: number, steps: number) {
  await sleep(queuedMs);
  await stack.deps.store.jobs.apply(t.claim(job, 'w-test', new Date()));
  for (let step = 1; step <= steps; step++) {
    await sleep(stepMs);
    await stack.deps.store.jobs.apply(t.progress(job.id, 'w-test', new Date(), { step, of: steps }));
  }
  await stack.deps.store.jobs.apply(
    t.succeed(job.id, 'w-test', new Date(), {
      ttl: Math.floor(Date.now() / 1000) + 3600,
      billing: { gpuMs: 1, amountMicros: 0, currency: 'USD', month: '2026-01' },
      outputs: {},
      metrics: { runMs: stepMs * steps },
    }),
  );
}

/** The job reads (GetCommand) one wait makes while a simulated worker runs the job. */
async function readsOfOneWait(model: string): Promise<number> {
  const tenant = await newTenant();
  const job = await putQueued(tenant, model);
  calls = [];
  const [waited] = await Promise.all([
    waitForJob(counted, tenant, job.id, 10_000),
    runLikeAWorker(job, 200, 60, 8),
  ]);
  expect(waited.job.status).toBe('succeeded');
  return calls.filter((c) => c === 'GetCommand').length;
}

describe('the waiting GET', () => {
  it('reads a job on its schedule: fewer reads than the blind backoff, side by side', async () => {
    await measure('paced', 60);
    // 'unmeasured' has no pace: until the job's own progress shows one, the wait falls back to the backoff.
    const backoff = await readsOfOneWait('unmeasured');
    const scheduled = await readsOfOneWait('paced');
    console.log(`job reads per wait: ${scheduled} scheduled, ${backoff} backoff`);
    expect(scheduled).toBeLessThan(backoff);
    expect(scheduled).toBeLessThanOrEqual(8);
  });

  it('sleeps most of the time left, reads at the expected end, then every tenth of the run so far', () => {
    const now = 1_000_000;
    const at = (endIn: number, startedAgo: number) => ({ endMs: now + endIn, startMs: now - startedAgo });
    expect(nextReadInMs(at(10_000, 0), now, 0)).toBe(2000);
    expect(nextReadInMs(at(1600, 0), now, 0)).toBe(1200);
    expect(nextReadInMs(at(900, 0), now, 0)).toBe(900);
    expect(nextReadInMs(at(-10, 1000), now, 0)).toBe(100);
    expect(nextReadInMs(at(-10, 60_000), now, 0)).toBe(250);
    expect(nextReadInMs(at(-10, 50), now, 0)).toBe(25);
    // Without the job's own measured pace (queued, or no progress yet), never longer than the blind backoff's cap.
    expect(nextReadInMs(at(10_000, 0), now, 0, 500)).toBe(500);
    expect(nextReadInMs(at(200, 0), now, 0, 500)).toBe(200);
    // No estimate: a tenth of the time waited, within [25, 500] ms.
    expect(nextReadInMs({}, now, 100)).toBe(25);
    expect(nextReadInMs({}, now, 3000)).toBe(300);
  });
});

describe('queue place and estimates', () => {
  it("shows a queued job's position among its tenant's queued jobs and an estimated start", async () => {
    await measure('eta', 100);
    const tenant = await newTenant();
    const at = Date.now();
    const first = await putQueued(tenant, 'eta', new Date(at - 3));
    const second = await putQueued(tenant, 'eta', new Date(at - 2));
    const third = await putQueued(tenant, 'eta', new Date(at - 1));
    await stack.deps.store.jobs.apply(t.claim(first, 'w-eta', new Date()));

    const now = new Date();
    const estimate = await estimateJob(stack.deps, third, now);
    // first runs, second is ahead: position 2, one lane busy, 4 steps at 100 ms: (1 + 0.5) x 400 ms.
    expect(estimate.queue?.position).toBe(2);
    expect(Date.parse(estimate.queue!.estimatedStartAt!) - now.getTime()).toBe(600);
    const view = JobViewSchema.parse(await toJobView(stack.deps, third, estimate));
    expect(view.queue).toEqual(estimate.queue);
    expect(view.estimatedFinishAt).toBeUndefined();
    expect((await estimateJob(stack.deps, second, now)).queue?.position).toBe(1);
  });

  it("estimates a running job's finish from its own pace", async () => {
    const tenant = await newTenant();
    const job = await putQueued(tenant, 'eta');
    const claimedAt = new Date(Date.now() - 1000);
    await stack.deps.store.jobs.apply(t.claim(job, 'w-eta', claimedAt));
    const running = await stack.deps.store.jobs.apply(
      t.progress(job.id, 'w-eta', new Date(claimedAt.getTime() + 500), { step: 5, of: 20 }),
    );
    const estimate = await estimateJob(stack.deps, running!);
    // 100 ms per step (500 ms for 5), 15 steps left after the write at +500 ms.
    expect(estimate.endMs).toBe(claimedAt.getTime() + 500 + 1500);
    const view = JobViewSchema.parse(await toJobView(stack.deps, running!, estimate));
    expect(Date.parse(view.estimatedFinishAt!)).toBe(claimedAt.getTime() + 2000);
    expect(view.queue).toBeUndefined();
  });

  it('starts at once with nothing ahead, and spreads the backlog over the lanes the tenant has', () => {
    expect(startDelayMs({ ahead: 0, running: 0 }, 1000)).toBe(0);
    expect(startDelayMs({ ahead: 0, running: 1 }, 1000)).toBe(500);
    expect(startDelayMs({ ahead: 3, running: 2 }, 1000)).toBe(1750);
  });
});

describe('POST /v1/jobs round trips', () => {
  const request = (): CreateJobRequest =>
    CreateJobRequestSchema.parse({ kind: 'reconstruct', image: { base64: PNG_1X1 }, steps: 4 });

  async function caller() {
    const tenant = await newTenant();
    return { tenant, limits: await tenantLimits(stack.deps.store, tenant) };
  }

  it('claims the Idempotency-Key with one put, and reads it only when the put fails (a replay)', async () => {
    const who = await caller();
    const body = { kind: 'reconstruct', image: { base64: PNG_1X1 }, steps: 4 };
    calls = [];
    const created = await createJob(counted, who, body, request(), 'key-1');
    expect(created.replayed).toBe(false);
    expect(calls[0]).toBe('PutCommand');
    calls = [];
    const replayed = await createJob(counted, who, body, request(), 'key-1');
    expect(replayed).toMatchObject({ replayed: true, job: { id: created.job.id } });
    // The failed claim, the key's read, the job's read: nothing else.
    expect(calls).toEqual(['PutCommand', 'GetCommand', 'GetCommand']);
    await expect(createJob(counted, who, { other: 1 }, request(), 'key-1')).rejects.toMatchObject({
      code: 'idempotency_conflict',
    });
  });

  it('puts no job item when its inline input could not be stored, and frees the key for the retry', async () => {
    const who = await caller();
    const body = { kind: 'reconstruct', image: { base64: PNG_1X1 }, steps: 4 };
    const noBucket = { ...counted, config: { ...counted.config, OBELM_BUCKET: 'no-such-bucket' } };
    await expect(createJob(noBucket, who, body, request(), 'key-2')).rejects.toThrow();
    expect(await activeCounts(stack.deps.store, who.tenant)).toEqual({ active: 0, sent: 0 });
    const retried = await createJob(counted, who, body, request(), 'key-2');
    expect(retried.replayed).toBe(false);
    expect(await stack.deps.store.jobs.get(retried.job.id)).toMatchObject({ status: 'queued' });
  });
});
