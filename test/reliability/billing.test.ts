import { DeleteObjectCommand } from '@aws-sdk/client-s3';
import { GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import {
  billFor,
  endBilling,
  type JobItem,
  jobTransitions,
  type PriceTable,
  priceOf,
  type UsageEntry,
  usageEntryOf,
  usageMonth,
} from '@obelm/core';
import { queuedJobItem } from '@obelm/core/testing';
import { monthUsage, relayEnd, sendJobMessage } from '@obelm/store';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, createJob, waitForJob } from '../e2e/helpers.ts';
import { type FaultStack, outputsOf, readItem, startFaultStack, waitForItem } from './helpers.ts';

/**
 * Metering exactly once, through faults: every job that ends has one usage entry, whatever crashed, was retried
 * or delivered twice, and it bills what the rules say (docs/billing.md): the work that produced the result for
 * a success, what ran for a cancel, nothing for our failures or for a request refused at the door.
 */

const PRICES: PriceTable = {
  currency: 'USD',
  default: { perGpuSecondMicros: 1, perJobMicros: 1 },
  models: { demo: { perGpuSecondMicros: 900_000, perJobMicros: 2500 } },
};
const price = priceOf(PRICES, 'demo');

let t: FaultStack;
/** Every job of this file that ended: each must have exactly one usage entry, and nothing else may. */
const endedJobs = new Set<string>();

beforeAll(async () => {
  // One supervised worker, slowed to 30 ms a step so it can be killed or canceled mid-job; a sweep every second.
  t = await startFaultStack({
    worker: 1,
    workerEnv: { OBELM_TEST_STEP_DELAY_MS: '30' },
    serviceEnv: { OBELM_PRICES: JSON.stringify(PRICES) },
  });
});
afterAll(async () => {
  await t?.stop();
});

/** The job's item once what follows its end is done (its usage entry written, `outboxPending` gone). */
async function relayed(jobId: string): Promise<JobItem> {
  const item = await waitForItem(t.stack, jobId, (i) => i.finishedAt !== undefined && !i.outboxPending);
  endedJobs.add(jobId);
  return item;
}

/** The usage entries of a job (all months its end could be in: one). */
async function entriesOf(item: JobItem): Promise<UsageEntry[]> {
  const entries = await monthUsage(t.stack.deps.store, t.stack.tenant, item.billing!.month);
  return entries.filter((e) => e.jobId === item.id);
}

/** Waits until the jobs queue holds no message (a worker took and settled every one). */
async function queueDrained(): Promise<void> {
  const { sqs, config } = t.stack.deps;
  const deadline = Date.now() + 20_000;
  for (;;) {
    const { Attributes: a = {} } = await sqs.send(
      new GetQueueAttributesCommand({
        QueueUrl: config.OBELM_JOBS_QUEUE_URL,
        AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
      }),
    );
    if (Number(a.ApproximateNumberOfMessages) + Number(a.ApproximateNumberOfMessagesNotVisible) === 0) return;
    if (Date.now() > deadline) throw new Error(`the jobs queue still holds messages: ${JSON.stringify(a)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe('metering', () => {
  it('bills a job whose worker was SIGKILLed and that a retry finished once, from its checkpoint on', async () => {
    const { stack } = t;
    const job = await createJob(stack, { kind: 'sample', prompt: 'white cross', seed: 23, steps: 40 });
    await waitForItem(
      stack,
      job.id,
      (item) => item.status === 'running' && (item.checkpoint?.step ?? 0) >= 10,
    );
    const [pid] = stack.workerPids();
    process.kill(pid!, 'SIGKILL');
    const resumedFrom = (await readItem(stack, job.id)).checkpoint!;
    expect(resumedFrom.gpuMs).toBeGreaterThan(0);

    const done = await waitForJob(stack, job.id, undefined, 30_000);
    expect(done.status, JSON.stringify(done.error)).toBe('succeeded');
    const item = await relayed(job.id);
    expect(item.attempts).toBe(2);
    expect((await outputsOf(done)).report.resumedFrom?.step).toBeGreaterThanOrEqual(resumedFrom.step);

    // Billed: the work up to the checkpoint the retry resumed from, plus the retry's own, at the accepted price.
    const billing = item.billing!;
    expect(item.price).toEqual(price);
    expect(billing.gpuMs).toBeGreaterThanOrEqual(resumedFrom.gpuMs!);
    expect(billing).toEqual(billFor(price, 'succeeded', billing.gpuMs, new Date(item.finishedAt!)));
    expect(done.billing).toEqual({
      gpuMs: billing.gpuMs,
      amountMicros: billing.amountMicros,
      currency: 'USD',
    });
    // One entry, the job's own.
    expect(await entriesOf(item)).toEqual([usageEntryOf(item)]);

    // Relayed again (a second worker, the sweeper, a retry after a crash), even at once: still one entry.
    const pending = { ...item, outboxPending: true };
    await Promise.all([relayEnd(stack.deps.store, pending), relayEnd(stack.deps.store, pending)]);
    // Its message delivered again after the end: the worker settles it as done, without a second entry.
    await sendJobMessage(stack.deps.store, item);
    await queueDrained();
    expect(await entriesOf(item)).toEqual([usageEntryOf(item)]);
    expect((await readItem(stack, job.id)).outboxPending).toBeUndefined();
  });

  it('bills a job canceled while it ran for the steps that ran, without the job fee', async () => {
    const { stack } = t;
    const job = await createJob(stack, { kind: 'sample', prompt: 'red circle', seed: 4, steps: 100 });
    await waitForItem(stack, job.id, (item) => (item.progress?.step ?? 0) >= 3);
    expect((await api(stack, 'POST', `/v1/jobs/${job.id}/cancel`)).status).toBe(200);
    const done = await waitForJob(stack, job.id);
    expect(done.status).toBe('canceled');
    const item = await relayed(job.id);
    const billing = item.billing!;
    expect(billing.gpuMs).toBeGreaterThan(0);
    expect(billing.amountMicros).toBe(Math.ceil((billing.gpuMs * price.perGpuSecondMicros) / 1000));
    const [entry] = await entriesOf(item);
    expect(entry).toMatchObject({
      status: 'canceled',
      gpuMs: billing.gpuMs,
      amountMicros: billing.amountMicros,
    });
    expect(entry!.steps).toBeGreaterThanOrEqual(3);
    expect(entry!.steps).toBeLessThan(100);
  });

  it('bills nothing for a job that failed on its worker, and records it', async () => {
    const { stack } = t;
    const source = await waitForJob(stack, (await createJob(stack, { kind: 'sample', steps: 4 })).id);
    expect(source.status).toBe('succeeded');
    endedJobs.add(source.id);
    // Its noise gone behind the API's back: a job started from it fails on the worker (input_not_found).
    const noiseKey = (await readItem(stack, source.id)).outputs!.noise!;
    await stack.deps.s3.send(
      new DeleteObjectCommand({ Bucket: stack.deps.config.OBELM_BUCKET, Key: noiseKey }),
    );
    const failed = await waitForJob(
      stack,
      (await createJob(stack, { kind: 'invert', noise: { jobId: source.id } })).id,
    );
    expect(failed.status).toBe('failed');
    expect(failed.error?.code).toBe('input_not_found');
    expect(failed.billing).toEqual({ gpuMs: 0, amountMicros: 0, currency: 'USD' });
    const item = await relayed(failed.id);
    expect(await entriesOf(item)).toEqual([usageEntryOf(item)]);
  });

  it('never leaves an ended job unbilled: the sweeper relays an end whose relay never ran', async () => {
    const { stack } = t;
    const now = new Date();
    const job = queuedJobItem(
      {
        id: 'job_unrelayed_end',
        tenant: stack.tenant,
        price,
        // Work a checkpoint held: the cancel bills it.
        checkpoint: {
          key: 'k',
          completedKeys: [],
          stage: 0,
          step: 2,
          savedAt: now.toISOString(),
          gpuMs: 1234,
        },
      },
      now,
    );
    // A cancel applied as a process that crashed right after its transition would have left it: no relay.
    await stack.deps.store.jobs.put(jobTransitions.create({ ...job, dispatch: 'held' }));
    const billing = endBilling(job, 'canceled', now, job.checkpoint!.gpuMs);
    const canceled = await stack.deps.store.jobs.apply(
      jobTransitions.cancel(job.id, { status: 'queued' }, now, { ttl: job.ttl, billing }),
    );
    expect(canceled?.outboxPending).toBe(true);

    const item = await relayed(job.id); // by the stack's periodic sweep
    expect(billing).toMatchObject({ gpuMs: 1234, amountMicros: Math.ceil(1234 * 900) });
    expect(await entriesOf(item)).toEqual([usageEntryOf(item)]);
  });

  it('records nothing for requests refused at the door, and one entry for each job that ended', async () => {
    const { stack } = t;
    const month = usageMonth(new Date());
    const count = async () => (await monthUsage(stack.deps.store, stack.tenant, month)).length;
    const before = await count();
    const refused = [
      { kind: 'sample', steps: 1 },
      { kind: 'sample', noise: { jobId: 'job_missing' } },
      { kind: 'invert' },
    ];
    for (const body of refused) {
      const res = await api<{ error: { code: string } }>(stack, 'POST', '/v1/jobs', body);
      expect(res.status, JSON.stringify(res.body)).toBeGreaterThanOrEqual(400);
    }
    await queueDrained();
    expect(await count()).toBe(before);
    // Every job this file ended has its entry; there is no other.
    const ids = (await monthUsage(stack.deps.store, stack.tenant, month)).map((e) => e.jobId);
    expect(ids.sort()).toEqual([...endedJobs].sort());
  });
});
