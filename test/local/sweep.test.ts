import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { applyTransition } from '@obelm/api';
import {
  dbKeys,
  endBilling,
  type JobDispatch,
  type JobItem,
  jobTransitions,
  newId,
  ttlAfter,
  usageMonth,
} from '@obelm/core';
import type { LocalStack } from '@obelm/local';
import { createTenant, setTenantLimits } from '@obelm/store';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createJob, waitForJob } from '../e2e/helpers.ts';
import { removeTempDirs, startTestStack, waitFor } from './helpers.ts';

let stack: LocalStack;
let template: JobItem;
beforeAll(async () => {
  // Test workers heartbeat every second, so the stack's stale rule (two missed beats) is 2 s.
  stack = await startTestStack({ worker: 1, sweepEverySeconds: 1 });
  // A real job first: its item, as the API resolved it, is the template of the jobs the tests arrange.
  const done = await waitForJob(stack, (await createJob(stack, { kind: 'sample', seed: 7 })).id, [
    'succeeded',
  ]);
  template = await item(done.id);
});
afterAll(async () => {
  await stack?.stop();
  removeTempDirs();
});

const table = () => stack.deps.config.OBELM_TABLE;
async function item(id: string): Promise<JobItem> {
  const { Item } = await stack.deps.db.send(new GetCommand({ TableName: table(), Key: dbKeys.job(id) }));
  return Item as JobItem;
}

/** Puts a queued job of `tenant` as the API would, with no message: what a crash leaves behind. */
async function putQueued(tenant: string, dispatch: JobDispatch): Promise<JobItem> {
  const now = new Date();
  const job: JobItem = {
    id: newId('job'),
    tenant,
    status: 'queued',
    params: template.params,
    inputs: template.inputs,
    attempts: 0,
    createdAt: now.toISOString(),
    updatedAt: now.toISOString(),
    ttl: template.ttl,
    ...(template.price ? { price: template.price } : {}),
  };
  await stack.deps.db.send(
    new PutCommand({ TableName: table(), ...jobTransitions.create({ ...job, dispatch }) }),
  );
  return job;
}

describe('the periodic sweep', () => {
  it('takes back a dead worker’s running job and a worker finishes it, without a restart of the stack', async () => {
    // A job a worker claimed a minute ago and then died with: running, old heartbeat, no message left.
    const job = await putQueued(stack.tenant, 'sent');
    const claimed = await applyTransition(
      stack.deps,
      jobTransitions.claim(job, 'local-dead-worker', new Date(Date.now() - 60_000)),
    );
    expect(claimed?.status).toBe('running');

    const finished = await waitForJob(stack, job.id, ['succeeded', 'failed'], 30_000);
    expect(finished.status).toBe('succeeded');
  });

  it('releases held jobs whose release a crash left undone, and a worker runs them', async () => {
    // Held with every slot free: the job that held the slot ended, and its end's release never ran.
    const tenant = 'sweep-held';
    await createTenant(stack.deps.store, tenant);
    await setTenantLimits(stack.deps.store, tenant, { parallelJobs: 1 });
    const [first, second] = [await putQueued(tenant, 'held'), await putQueued(tenant, 'held')];

    // One slot: the oldest goes first; the second follows when the first ends (its end releases it).
    const succeeded = (job: JobItem) =>
      waitFor(
        `${job.id} to succeed`,
        async () => {
          const now = await item(job.id);
          return now.status === 'succeeded' && now;
        },
        30_000,
      );
    const [a, b] = [await succeeded(first), await succeeded(second)];
    expect(Date.parse(b.startedAt!)).toBeGreaterThanOrEqual(Date.parse(a.finishedAt!));
  });

  it('finishes the outbox of a job that ended without it (a crash right after the terminal write)', async () => {
    const job = await putQueued('sweep-outbox', 'held');
    const now = new Date();
    const ended = await applyTransition(
      stack.deps,
      jobTransitions.cancel(job.id, { status: 'queued' }, now, {
        ttl: ttlAfter(now, 3600),
        billing: endBilling(job, 'canceled', now),
      }),
    );
    expect(ended?.outboxPending).toBe(true);

    await waitFor('the outbox done', async () => (await item(job.id)).outboxPending === undefined);
    const { Item: entry } = await stack.deps.db.send(
      new GetCommand({ TableName: table(), Key: dbKeys.usageEntry('sweep-outbox', usageMonth(now), job.id) }),
    );
    expect(entry).toMatchObject({ jobId: job.id, status: 'canceled', amountMicros: 0 });
  });
});
