import { GetQueueAttributesCommand, PurgeQueueCommand } from '@aws-sdk/client-sqs';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { SETTLE_MS, sweepJobs } from '@obelm/api';
import { dbKeys, type JobItem } from '@obelm/core';
import type { LocalStack } from '@obelm/local';
import { setTenantLimits } from '@obelm/store';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addApiKey, call } from '../api/helpers.ts';
import { createJob } from '../e2e/helpers.ts';
import { removeTempDirs, startTestStack } from './helpers.ts';

let stack: LocalStack;
beforeAll(async () => {
  // No worker and no periodic sweep: the queue and the table change only by what the test does.
  stack = await startTestStack({ worker: 0, sweepEverySeconds: 0 });
});
afterAll(async () => {
  await stack?.stop();
  removeTempDirs();
});

const sweeping = { staleAfterMs: 60_000 };
/** The sweeper's clients, `ms` in the future. */
const later = (ms: number) => ({ ...stack.deps, now: () => new Date(Date.now() + ms) });
const messages = async () => {
  const { Attributes: a = {} } = await stack.deps.sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: stack.deps.config.OBELM_JOBS_QUEUE_URL,
      AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
    }),
  );
  return Number(a.ApproximateNumberOfMessages) + Number(a.ApproximateNumberOfMessagesNotVisible);
};
const item = async (id: string) =>
  (
    await stack.deps.db.send(
      new GetCommand({ TableName: stack.deps.config.OBELM_TABLE, Key: dbKeys.job(id) }),
    )
  ).Item as JobItem;

describe('the sweeper re-sends only lost messages', () => {
  it('sends nothing while every queued job has its message, however long the jobs have waited', async () => {
    const jobs = [
      await createJob(stack, { kind: 'sample', seed: 1 }),
      await createJob(stack, { kind: 'sample' }),
    ];
    expect((await item(jobs[0]!.id)).enqueuedAt).toBe((await item(jobs[0]!.id)).createdAt);
    const before = await messages();
    for (const ms of [0, SETTLE_MS + 1000, 6 * 3600_000]) {
      expect((await sweepJobs(later(ms), sweeping)).requeued).toEqual([]);
    }
    expect(await messages()).toBe(before);
  });

  it('sends a queued job whose message was lost, once the counts have had time to show it, and only once', async () => {
    await stack.deps.sqs.send(new PurgeQueueCommand({ QueueUrl: stack.deps.config.OBELM_JOBS_QUEUE_URL }));
    const lost = await createJob(stack, { kind: 'sample', seed: 2 });
    await stack.deps.sqs.send(new PurgeQueueCommand({ QueueUrl: stack.deps.config.OBELM_JOBS_QUEUE_URL }));
    expect(await messages()).toBe(0);
    const queued = 3; // the first test's two and this one: none has a message now

    // Just sent: the approximate counts may not show it yet, so not counted as lost.
    expect((await sweepJobs(stack.deps, sweeping)).requeued).not.toContain(lost.id);
    const swept = await sweepJobs(later(SETTLE_MS + 1000), sweeping);
    expect(swept.requeued).toContain(lost.id);
    expect(swept.requeued).toHaveLength(queued);
    expect(await messages()).toBe(queued);
    expect(Date.parse((await item(lost.id)).enqueuedAt!)).toBeGreaterThan(Date.now());

    // The queue whole again: later sweeps send nothing more.
    expect((await sweepJobs(later(2 * SETTLE_MS + 2000), sweeping)).requeued).toEqual([]);
    expect(await messages()).toBe(queued);
  });

  it('sends every queued job when told the queue forgot everything (the local stack after a restart)', async () => {
    const swept = await sweepJobs(stack.deps, { ...sweeping, resendAll: true });
    expect(swept.requeued).toHaveLength(3);
  });

  it('never counts or sends a held job: it waits in the table without a message by design', async () => {
    const key = await addApiKey(stack, 'one-slot');
    await setTenantLimits(stack.deps.store, 'one-slot', { parallelJobs: 1 });
    const post = async (body: object) =>
      (await call(stack, 'POST', '/v1/jobs', { key, body })).body as { id: string };
    const sent = await post({ kind: 'sample', seed: 3 });
    const held = await post({ kind: 'sample', seed: 4 });
    expect([(await item(sent.id)).dispatch, (await item(held.id)).dispatch]).toEqual(['sent', 'held']);

    await stack.deps.sqs.send(new PurgeQueueCommand({ QueueUrl: stack.deps.config.OBELM_JOBS_QUEUE_URL }));
    const all = await sweepJobs(stack.deps, { ...sweeping, resendAll: true });
    expect(all.requeued).toContain(sent.id);
    expect(all.requeued).not.toContain(held.id);
    expect(all.released).toEqual([]);
    expect(await messages()).toBe(4);

    // Every message there: the held job is no shortfall, and nothing is sent.
    expect((await sweepJobs(later(SETTLE_MS + 1000), sweeping)).requeued).toEqual([]);
    expect((await item(held.id)).dispatch).toBe('held');
  });
});
