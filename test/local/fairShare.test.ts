import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { dbKeys, type JobItem } from '@obelm/core';
import type { LocalStack } from '@obelm/local';
import { setTenantLimits } from '@obelm/store';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addApiKey, call } from '../api/helpers.ts';
import { removeTempDirs, startTestStack, waitFor } from './helpers.ts';

/**
 * Fair share through the local stack (store dispatch.ts): a tenant's jobs beyond its `parallelJobs` wait in the
 * table, not in the shared queue, so another tenant's job starts after at most a few of theirs. No periodic
 * sweep runs here: held jobs are released only by the ends of their tenant's jobs (store relayEnd).
 */

const PARALLEL_JOBS = 2;
const WORKERS = 1;
/** Each demo step takes this long on the worker, so a 60-job backlog outlasts its submission. */
const STEP_DELAY_MS = 10;

let stack: LocalStack;
beforeAll(async () => {
  stack = await startTestStack({
    worker: WORKERS,
    sweepEverySeconds: 0,
    workerEnv: { OBELM_TEST_STEP_DELAY_MS: String(STEP_DELAY_MS) },
  });
});
afterAll(async () => {
  await stack?.stop();
  removeTempDirs();
});

/** A tenant with `parallelJobs` dispatch slots, its key, and a function that submits a job with it. */
async function tenant(name: string, parallelJobs = PARALLEL_JOBS) {
  const key = await addApiKey(stack, name);
  await setTenantLimits(stack.deps.store, name, { parallelJobs });
  const submit = async (body: object = { kind: 'sample', steps: 4 }): Promise<JobItem> => {
    const res = await call(stack, 'POST', '/v1/jobs', { key, body });
    if (res.status !== 202) throw new Error(`create: ${res.status} ${JSON.stringify(res.body)}`);
    return item(res.body.id);
  };
  return { key, submit };
}

async function item(id: string): Promise<JobItem> {
  const { Item } = await stack.deps.db.send(
    new GetCommand({ TableName: stack.deps.config.OBELM_TABLE, Key: dbKeys.job(id), ConsistentRead: true }),
  );
  return Item as JobItem;
}

/** The jobs once every one has ended. */
const ended = (jobs: readonly JobItem[], timeoutMs = 120_000) =>
  waitFor(
    'the jobs to end',
    async () => {
      const now = await Promise.all(jobs.map((j) => item(j.id)));
      return now.every((j) => j.finishedAt) && now;
    },
    timeoutMs,
  );

const at = (iso: string | undefined) => Date.parse(iso!);

describe('fair share between tenants', () => {
  it("starts B's job after at most parallelJobs + workers of A's 60-job backlog", async () => {
    const [a, b] = [await tenant('tenant-a'), await tenant('tenant-b')];
    // One after another, as a client's loop would (concurrent requests can overshoot the slots by the requests
    // in flight: dispatch.ts). Beyond its PARALLEL_JOBS slots, A's jobs wait in the table, not in the queue.
    const backlog: JobItem[] = [];
    for (let i = 0; i < 60; i++) backlog.push(await a.submit());
    expect(backlog.filter((j) => j.dispatch === 'held').length).toBeGreaterThanOrEqual(50);
    const bJob = await b.submit();
    expect(bJob.dispatch).toBe('sent');

    const [bDone, ...aDone] = await ended([bJob, ...backlog]);
    expect([bDone!, ...aDone].map((j) => j.status)).toEqual(Array(61).fill('succeeded'));

    // A's jobs that were still queued when B was submitted and started before B did.
    const bStarted = at(bDone!.startedAt);
    const ahead = aDone.filter((j) => at(j.startedAt) >= at(bJob.createdAt) && at(j.startedAt) < bStarted);
    expect(ahead.length).toBeLessThanOrEqual(PARALLEL_JOBS + WORKERS);
    // The backlog was real: many of A's jobs had not started when B's was submitted.
    const waiting = aDone.filter((j) => at(j.startedAt) >= at(bJob.createdAt));
    expect(waiting.length).toBeGreaterThanOrEqual(20);
  });

  it('releases held jobs as sent ones end, and never runs a held job canceled while it waits', async () => {
    const { key, submit } = await tenant('tenant-c', 1);
    // The slot's job runs for a while (40 slowed steps), so the others are still held when canceled or counted.
    const long = await submit({ kind: 'sample', steps: 40 });
    const canceled = await submit();
    const next = await submit();
    expect([long.dispatch, canceled.dispatch, next.dispatch]).toEqual(['sent', 'held', 'held']);
    const cancel = await call(stack, 'POST', `/v1/jobs/${canceled.id}/cancel`, { key });
    expect(cancel.body.status).toBe('canceled');

    const [longDone, canceledDone, nextDone] = await ended([long, canceled, next]);
    expect(longDone!.status).toBe('succeeded');
    expect(canceledDone).toMatchObject({ status: 'canceled', attempts: 0 });
    expect(canceledDone!.startedAt).toBeUndefined();
    expect(nextDone!.status).toBe('succeeded');
    // One slot: the held job started only once the slot's job had ended.
    expect(at(nextDone!.startedAt)).toBeGreaterThanOrEqual(at(longDone!.finishedAt));
  });
});
