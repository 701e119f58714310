import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { applyTransition } from '@obelm/api';
import {
  billFor,
  dbKeys,
  endEventId,
  type JobDispatch,
  type JobItem,
  jobTransitions as t,
} from '@obelm/core';
import { queuedJobItem } from '@obelm/core/testing';
import { type LocalStack, startLocalStack } from '@obelm/local';
import { JobTable } from '@obelm/store';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * The transitions against a real DynamoDB protocol server (dynalite): the conditions that make each one atomic,
 * sent through both the API's and the worker's clients.
 */
describe('job transitions on the table', () => {
  let stack: LocalStack;
  let dir: string;
  let worker: JobTable;
  let n = 0;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'obelm-transitions-'));
    stack = await startLocalStack({ dataDir: dir, port: 0, worker: false });
    worker = new JobTable(stack.deps.db, stack.deps.config.OBELM_TABLE);
  });
  afterAll(async () => {
    await stack?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const price = { currency: 'USD', perGpuSecondMicros: 500, perJobMicros: 1000 };
  const bill = (status: 'succeeded' | 'canceled' | 'failed', gpuMs = 0) =>
    billFor(price, status, gpuMs, new Date());

  async function queuedJob(dispatch: JobDispatch = 'sent'): Promise<JobItem> {
    const job = queuedJobItem({ id: `job_transitions_${++n}`, tenant: 'dev', price });
    await worker.put(t.create({ ...job, dispatch }));
    return job;
  }

  it('claims a job once; only its owner may write it; it ends once with one event', async () => {
    const job = await queuedJob();
    const claimed = await worker.apply(t.claim(job, 'w1', new Date()));
    expect(claimed).toMatchObject({ status: 'running', workerId: 'w1', attempts: 1 });
    expect(await worker.apply(t.claim(job, 'w2', new Date()))).toBeUndefined();
    expect(await worker.apply(t.progress(job.id, 'w2', new Date(), { step: 1, of: 4 }))).toBeUndefined();
    expect(await worker.apply(t.progress(job.id, 'w1', new Date(), { step: 1, of: 4 }))).toMatchObject({
      progress: { step: 1, of: 4 },
    });

    const billing = bill('succeeded', 40);
    const done = await worker.apply(
      t.succeed(job.id, 'w1', new Date(), { outputs: {}, metrics: {}, ttl: 1, billing }),
    );
    expect(done?.status).toBe('succeeded');
    expect(done?.endEvent).toMatchObject({ id: endEventId(job.id, 'succeeded'), type: 'job.succeeded' });
    // The end carries what it bills and opens the outbox; the job left the active index.
    expect(done).toMatchObject({ billing, outboxPending: true });
    expect(done).not.toHaveProperty('gsi2pk');
    expect(done).not.toHaveProperty('gsi2sk');
    expect(done).not.toHaveProperty('dispatch');
    // A retried end (a duplicate message, a second worker, a crash and retry) changes nothing, its bill included.
    const again = { outputs: {}, metrics: {}, ttl: 2, billing: bill('succeeded', 999) };
    expect(await worker.apply(t.succeed(job.id, 'w1', new Date(), again))).toBe(undefined);
    const cancel = t.cancel(job.id, { status: 'queued' }, new Date(), { ttl: 1, billing: bill('canceled') });
    expect(await applyTransition(stack.deps, cancel)).toBe(undefined);
    expect((await worker.get(job.id))?.billing).toEqual(billing);

    // The outbox closes once; a second close finds it closed.
    expect((await worker.apply(t.outboxDone(job.id, 'succeeded')))?.outboxPending).toBeUndefined();
    expect(await worker.apply(t.outboxDone(job.id, 'succeeded'))).toBeUndefined();
    // Only for the status it ended with.
    expect(await worker.apply(t.outboxDone(job.id, 'canceled'))).toBeUndefined();
  });

  it("dispatches a held job once, into the sent part of its tenant's active index", async () => {
    const job = await queuedJob('held');
    expect((await worker.get(job.id))?.enqueuedAt).toBeUndefined();
    const sent = await worker.apply(t.dispatch(job, new Date()));
    expect(sent).toMatchObject({
      dispatch: 'sent',
      ...dbKeys.activeJob('dev', 'sent', job.createdAt, job.id),
    });
    expect(sent?.enqueuedAt).toBeDefined();
    expect(await worker.apply(t.dispatch(job, new Date()))).toBeUndefined();
  });

  it("deletes an ended job's data into a tombstone that keeps its end and bill", async () => {
    const job = await queuedJob();
    expect(await worker.apply(t.deleteData(job.id, 'canceled', new Date()))).toBeUndefined(); // not ended
    await worker.apply(t.claim(job, 'w1', new Date()));
    const billing = bill('succeeded', 10);
    await worker.apply(
      t.succeed(job.id, 'w1', new Date(), { outputs: { image: 'k' }, metrics: {}, ttl: 1, billing }),
    );
    const tombstone = await worker.apply(t.deleteData(job.id, 'succeeded', new Date()));
    expect(tombstone).toMatchObject({ status: 'succeeded', billing, deletedAt: expect.any(String) });
    expect(tombstone?.outputs).toBeUndefined();
    expect(tombstone?.endEvent?.id).toBe(endEventId(job.id, 'succeeded'));
  });

  it("re-queues a stale job only while its heartbeat is the one seen, by the API's sweep or a worker alike", async () => {
    const job = await queuedJob();
    const claimed = (await worker.apply(t.claim(job, 'w1', new Date())))!;
    const other = '2000-01-01T00:00:00.000Z';
    expect(await applyTransition(stack.deps, t.requeue(job.id, new Date(), { seenHeartbeatAt: other }))).toBe(
      undefined,
    );
    expect(await worker.apply(t.requeue(job.id, new Date(), { seenHeartbeatAt: null }))).toBeUndefined();
    const requeued = await applyTransition(
      stack.deps,
      t.requeue(job.id, new Date(), { seenHeartbeatAt: claimed.heartbeatAt! }),
    );
    expect(requeued).toMatchObject({ status: 'queued', attempts: 1 });
    expect(requeued?.workerId).toBeUndefined();
  });

  it('cancels a running job through its request, then its worker; a checkpoint gives the attempt back', async () => {
    const job = await queuedJob();
    await worker.apply(t.claim(job, 'w1', new Date()));
    expect(await applyTransition(stack.deps, t.requestCancel(job.id, new Date()))).toMatchObject({
      status: 'running',
      cancelRequested: true,
    });
    const billing = bill('canceled', 5);
    const canceled = await worker.apply(
      t.cancel(job.id, { status: 'running', workerId: 'w1' }, new Date(), {
        ttl: 1,
        metrics: { gpuMs: 5 },
        billing,
      }),
    );
    expect(canceled).toMatchObject({
      status: 'canceled',
      metrics: { gpuMs: 5 },
      billing,
      outboxPending: true,
    });
    // A cancel pays for what ran, without the job fee.
    expect(billing.amountMicros).toBe(3);
    expect(canceled?.endEvent?.id).toBe(endEventId(job.id, 'canceled'));

    const second = await queuedJob();
    await worker.apply(t.claim(second, 'w1', new Date()));
    const checkpoint = { key: 'k', completedKeys: [], stage: 0, step: 2, savedAt: new Date().toISOString() };
    const back = await worker.apply(t.checkpoint(second.id, 'w1', new Date(), checkpoint));
    expect(back).toMatchObject({ status: 'queued', attempts: 0, checkpoint });
  });
});
