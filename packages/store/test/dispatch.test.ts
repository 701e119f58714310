import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DeleteMessageCommand, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import {
  endBilling,
  type JobDispatch,
  type JobItem,
  JobMessageSchema,
  jobTransitions as t,
  ttlAfter,
} from '@obelm/core';
import { queuedJobItem } from '@obelm/core/testing';
import { type LocalStack, startLocalStack } from '@obelm/local';
import {
  activeCounts,
  createTenant,
  releaseHeld,
  type StoreContext,
  sendJobMessage,
  setTenantLimits,
} from '@obelm/store';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * Dispatch slots against the real protocol servers (dynalite's gsi2, the SQS stand-in): counts per tenant, the
 * release of held jobs oldest first into free slots, and its safety when callers race.
 */

let stack: LocalStack;
let dir: string;
let store: StoreContext;
let n = 0;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'obelm-dispatch-'));
  // No worker and no sweep: the queue and the table change only by what the test does.
  stack = await startLocalStack({ dataDir: dir, port: 0, worker: false, sweepEverySeconds: 0 });
  store = stack.deps.store;
});
afterAll(async () => {
  await stack?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** A tenant of its own per test, with `parallelJobs` dispatch slots. */
async function tenantWith(parallelJobs: number): Promise<string> {
  const tenant = `dispatch-${++n}`;
  await createTenant(store, tenant);
  await setTenantLimits(store, tenant, { parallelJobs });
  return tenant;
}

/** Puts a queued job (ids sort by creation: `createdAt` a millisecond apart per call). */
let clock = Date.parse('2026-01-01T00:00:00Z');
async function putJob(tenant: string, dispatch: JobDispatch): Promise<JobItem> {
  const at = new Date(clock++);
  // Kept an hour from now: `at` is in the past, and only the order of `createdAt` matters here.
  const job = {
    ...queuedJobItem({ id: `job_dispatch_${++n}`, tenant }, at),
    ttl: ttlAfter(new Date(), 3600),
  };
  await store.jobs.put(t.create({ ...job, dispatch }));
  return job;
}

const cancel = (job: JobItem) =>
  store.jobs.apply(
    t.cancel(job.id, { status: 'queued' }, new Date(), {
      ttl: ttlAfter(new Date(), 3600),
      billing: endBilling(job, 'canceled', new Date()),
    }),
  );

const dispatchOf = async (job: JobItem) => (await store.jobs.get(job.id))?.dispatch;

/** Every message in the jobs queue now, by job id (received and deleted: no worker runs here). */
async function drainMessages(): Promise<string[]> {
  const ids: string[] = [];
  for (;;) {
    const { Messages = [] } = await stack.deps.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: store.jobsQueueUrl,
        MaxNumberOfMessages: 10,
        WaitTimeSeconds: 0,
      }),
    );
    if (Messages.length === 0) return ids;
    for (const m of Messages) {
      ids.push(JobMessageSchema.parse(JSON.parse(m.Body!)).jobId);
      await stack.deps.sqs.send(
        new DeleteMessageCommand({ QueueUrl: store.jobsQueueUrl, ReceiptHandle: m.ReceiptHandle! }),
      );
    }
  }
}

describe('activeCounts', () => {
  it("counts a tenant's queued and running jobs and its sent ones, not another tenant's, not ended ones", async () => {
    const tenant = await tenantWith(2);
    const other = await tenantWith(2);
    const sent = await putJob(tenant, 'sent');
    await putJob(tenant, 'held');
    await putJob(tenant, 'held');
    await putJob(other, 'sent');
    expect(await activeCounts(store, tenant)).toEqual({ active: 3, sent: 1 });

    // Running still holds its slot; the end frees both counts.
    const running = await store.jobs.apply(t.claim(sent, 'w1', new Date()));
    expect(running?.dispatch).toBe('sent');
    expect(await activeCounts(store, tenant)).toEqual({ active: 3, sent: 1 });
    await store.jobs.apply(
      t.fail(sent.id, { status: 'running', workerId: 'w1' }, new Date(), {
        ttl: ttlAfter(new Date(), 3600),
        error: { code: 'x', message: 'x' },
        billing: endBilling(sent, 'failed', new Date()),
      }),
    );
    expect(await activeCounts(store, tenant)).toEqual({ active: 2, sent: 0 });
  });
});

/** What `run` returns, and the table commands the store sent while it ran (by name, in order). */
async function commandsOf<T>(run: () => Promise<T>): Promise<{ result: T; commands: string[] }> {
  const commands: string[] = [];
  const name = 'countCommands';
  store.db.middlewareStack.add(
    (next, context) => (args) => {
      commands.push(String(context.commandName));
      return next(args);
    },
    { step: 'initialize', name },
  );
  try {
    return { result: await run(), commands };
  } finally {
    store.db.middlewareStack.remove(name);
  }
}

describe('releaseHeld', () => {
  it('fills the free slots with the oldest held jobs, each sent once with its message', async () => {
    await drainMessages();
    const tenant = await tenantWith(2);
    const first = await putJob(tenant, 'sent');
    const held = [await putJob(tenant, 'held'), await putJob(tenant, 'held'), await putJob(tenant, 'held')];
    // One slot free: only the oldest held job goes.
    expect(await releaseHeld(store, tenant)).toEqual([held[0]!.id]);
    expect(await dispatchOf(held[0]!)).toBe('sent');
    expect((await store.jobs.get(held[0]!.id))?.enqueuedAt).toBeDefined();
    expect(await drainMessages()).toEqual([held[0]!.id]);
    // Full: nothing more, however often it is called.
    expect(await releaseHeld(store, tenant)).toEqual([]);

    await cancel(first);
    expect(await releaseHeld(store, tenant)).toEqual([held[1]!.id]);
    expect(await drainMessages()).toEqual([held[1]!.id]);
    expect(await dispatchOf(held[2]!)).toBe('held');
  });

  it('with nothing held, reads only the held jobs (one Query), whatever the free slots', async () => {
    const tenant = await tenantWith(2);
    await putJob(tenant, 'sent');
    const { result, commands } = await commandsOf(() => releaseHeld(store, tenant));
    expect(result).toEqual([]);
    expect(commands).toEqual(['QueryCommand']);
    // With a job held, the limits and the count are read too, and the job goes.
    const held = await putJob(tenant, 'held');
    const released = await commandsOf(() => releaseHeld(store, tenant));
    expect(released.result).toEqual([held.id]);
    expect(released.commands).toEqual(expect.arrayContaining(['GetItemCommand', 'QueryCommand']));
    expect(await drainMessages()).toEqual([held.id]);
  });

  it('takes a raised parallelJobs at once', async () => {
    const tenant = await tenantWith(1);
    await putJob(tenant, 'sent');
    const held = [await putJob(tenant, 'held'), await putJob(tenant, 'held')];
    expect(await releaseHeld(store, tenant)).toEqual([]);
    await setTenantLimits(store, tenant, { parallelJobs: 3 });
    expect(await releaseHeld(store, tenant)).toEqual(held.map((j) => j.id));
    await drainMessages();
  });

  it('skips a held job canceled meanwhile: it never gets a message', async () => {
    const tenant = await tenantWith(1);
    const [a, b] = [await putJob(tenant, 'held'), await putJob(tenant, 'held')];
    await cancel(a);
    expect(await releaseHeld(store, tenant)).toEqual([b.id]);
    expect(await drainMessages()).toEqual([b.id]);
    expect((await store.jobs.get(a.id))?.status).toBe('canceled');
  });

  // One process's callers (a worker's jobs ending together) and callers in different processes (their own store
  // contexts: the API, other workers, the sweeper).
  it.each([
    ['in one process', () => store],
    ['in 8 processes', () => ({ ...store })],
  ])(
    'dispatches each job once when many callers race %s (every job end of a tenant calls it)',
    async (where, ctx) => {
      await drainMessages();
      const tenant = await tenantWith(3);
      const held: JobItem[] = [];
      for (let i = 0; i < 12; i++) held.push(await putJob(tenant, 'held'));
      const results = await Promise.all(Array.from({ length: 8 }, () => releaseHeld(ctx(), tenant)));
      const released = [...new Set(results.flat())];
      // Each one released has a message and no other job has one; each one released is sent in the table.
      const messages = await drainMessages();
      expect([...new Set(messages)].sort()).toEqual([...released].sort());
      // One process's callers take turns (coalesced): no duplicate message. Across processes a caller that lost a
      // job to another has sent a duplicate, which workers drop.
      if (where === 'in one process') expect(messages).toHaveLength(released.length);
      const { sent } = await activeCounts(store, tenant);
      expect(sent).toBe(released.length);
      // The slots are filled (racing callers that counted before the others' writes may overshoot: dispatch.ts).
      expect(sent).toBeGreaterThanOrEqual(3);
      // Oldest first: whatever was released is a prefix of the held jobs in creation order.
      expect([...released].sort()).toEqual(
        held
          .slice(0, released.length)
          .map((j) => j.id)
          .sort(),
      );
    },
  );

  it('sends the message before it takes the slot: a failed send leaves the job held, never sent without one', async () => {
    await drainMessages();
    const tenant = await tenantWith(1);
    const held = await putJob(tenant, 'held');
    // The same table, a queue that does not exist: the send fails as an outage (or a crash before it) would.
    const broken = { ...store, jobsQueueUrl: `${store.jobsQueueUrl}-missing` };
    await expect(releaseHeld(broken, tenant)).rejects.toThrow();
    expect(await dispatchOf(held)).toBe('held');
    // The next release (the next job end, or the sweeper) sends it.
    expect(await releaseHeld(store, tenant)).toEqual([held.id]);
    expect(await drainMessages()).toEqual([held.id]);
  });

  it('a held job whose message went out before a crash is claimed into a slot, and not released again', async () => {
    await drainMessages();
    const tenant = await tenantWith(1);
    const held = await putJob(tenant, 'held');
    // A crash right after the send: the message is out, the job still held.
    await sendJobMessage(store, held);
    const running = await store.jobs.apply(t.claim(held, 'w1', new Date()));
    expect(running).toMatchObject({ status: 'running', dispatch: 'sent' });
    expect(await activeCounts(store, tenant)).toEqual({ active: 1, sent: 1 });
    expect(await releaseHeld(store, tenant)).toEqual([]);
    expect(await drainMessages()).toEqual([held.id]);
  });
});
