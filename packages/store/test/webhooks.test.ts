import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateQueueCommand, DeleteMessageCommand, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import {
  endBilling,
  type JobItem,
  jobTransitions as t,
  ttlAfter,
  type WebhookAttempt,
  WebhookMessageSchema,
} from '@obelm/core';
import { queuedJobItem } from '@obelm/core/testing';
import { type LocalStack, startLocalStack } from '@obelm/local';
import {
  enqueueWebhookEvent,
  getWebhookDelivery,
  jobWebhookEvent,
  recordWebhookAttempt,
  redeliverWebhookEvent,
  relayEnd,
  type StoreContext,
  type WebhookEvent,
} from '@obelm/store';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * Webhook deliveries against the real protocol servers (dynalite, the SQS stand-in): one delivery per event
 * whatever is relayed twice, one record per attempt whatever dispatches twice, and a redelivery's fresh schedule.
 * The messages go to a queue of this test's own, which no dispatcher consumes.
 */

let stack: LocalStack;
let dir: string;
let store: StoreContext;
let n = 0;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'obelm-webhooks-store-'));
  stack = await startLocalStack({ dataDir: dir, port: 0, worker: false, sweepEverySeconds: 0 });
  const { QueueUrl } = await stack.deps.sqs.send(
    new CreateQueueCommand({ QueueName: 'store-test-webhooks' }),
  );
  store = { ...stack.deps.store, webhooksQueueUrl: QueueUrl! };
});
afterAll(async () => {
  await stack?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** Every message waiting in the test's queue (taken out of it). */
async function drainMessages(): Promise<unknown[]> {
  const bodies: unknown[] = [];
  for (;;) {
    const { Messages = [] } = await store.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: store.webhooksQueueUrl,
        MaxNumberOfMessages: 10,
        WaitTimeSeconds: 0,
      }),
    );
    if (Messages.length === 0) return bodies;
    for (const m of Messages) {
      bodies.push(WebhookMessageSchema.parse(JSON.parse(m.Body!)));
      await store.sqs.send(
        new DeleteMessageCommand({ QueueUrl: store.webhooksQueueUrl, ReceiptHandle: m.ReceiptHandle }),
      );
    }
  }
}

const event = (): WebhookEvent => ({
  eventId: `evt_store_${++n}`,
  type: 'job.succeeded',
  tenant: stack.tenant,
  subject: { kind: 'job', id: `job_store_${n}` },
  url: 'https://hooks.example.com/obelm',
  occurredAt: new Date().toISOString(),
  ttl: ttlAfter(new Date(), 3600),
});

const failedAttempt = (): WebhookAttempt => ({ at: new Date().toISOString(), status: 503, latencyMs: 4 });

describe('enqueueWebhookEvent', () => {
  it('puts the delivery once, and sends again only while nothing has been attempted', async () => {
    const e = event();
    await Promise.all([enqueueWebhookEvent(store, e), enqueueWebhookEvent(store, e)]);
    const delivery = await getWebhookDelivery(store, e.eventId);
    expect(delivery).toMatchObject({
      id: e.eventId,
      status: 'pending',
      attempts: [],
      url: e.url,
      ttl: e.ttl,
    });
    // Both calls found it pending and untouched: both sent (the dispatcher drops the duplicate).
    expect(await drainMessages()).toEqual([
      { v: 1, eventId: e.eventId },
      { v: 1, eventId: e.eventId },
    ]);

    const retry = new Date(Date.now() + 60_000).toISOString();
    expect(
      await recordWebhookAttempt(store, delivery!, failedAttempt(), {
        status: 'pending',
        nextAttemptAt: retry,
      }),
    ).toBe(true);
    await enqueueWebhookEvent(store, e); // a relay run again after its first attempt: nothing to send
    expect(await drainMessages()).toEqual([]);
    expect((await getWebhookDelivery(store, e.eventId))?.attempts).toHaveLength(1);
  });
});

describe('recordWebhookAttempt', () => {
  it('records one of two dispatchers of the same attempt', async () => {
    const e = event();
    await enqueueWebhookEvent(store, e);
    const seen = (await getWebhookDelivery(store, e.eventId))!;
    const results = await Promise.all([
      recordWebhookAttempt(store, seen, failedAttempt(), {
        status: 'pending',
        nextAttemptAt: new Date().toISOString(),
      }),
      recordWebhookAttempt(store, seen, { ...failedAttempt(), status: 200 }, { status: 'delivered' }),
    ]);
    expect(results.filter(Boolean)).toHaveLength(1);
    expect((await getWebhookDelivery(store, e.eventId))?.attempts).toHaveLength(1);
    // The state it read is gone: a late record of it changes nothing.
    expect(await recordWebhookAttempt(store, seen, failedAttempt(), { status: 'failed' })).toBe(false);
    await drainMessages();
  });
});

describe('redeliverWebhookEvent', () => {
  it('starts a fresh schedule, keeps the past attempts, and sends the event again', async () => {
    const e = event();
    expect(await redeliverWebhookEvent(store, e.eventId)).toBe('not_enqueued');
    await enqueueWebhookEvent(store, e);
    let seen = (await getWebhookDelivery(store, e.eventId))!;
    const retry = new Date(Date.now() + 60_000).toISOString();
    await recordWebhookAttempt(store, seen, failedAttempt(), { status: 'pending', nextAttemptAt: retry });
    seen = (await getWebhookDelivery(store, e.eventId))!;
    await recordWebhookAttempt(store, seen, failedAttempt(), { status: 'failed' });
    await drainMessages();

    expect(await redeliverWebhookEvent(store, e.eventId)).toBe('redelivered');
    const reset = (await getWebhookDelivery(store, e.eventId))!;
    expect(reset.status).toBe('pending');
    expect(reset.attempts).toHaveLength(2);
    expect(reset.roundStart).toBe(2);
    expect(reset.nextAttemptAt).toBeUndefined();
    expect(await drainMessages()).toEqual([{ v: 1, eventId: e.eventId }]);
    // A dispatcher that read the delivery before the reset cannot record over it.
    expect(await recordWebhookAttempt(store, seen, failedAttempt(), { status: 'failed' })).toBe(false);
  });
});

describe("relayEnd and a job's webhook", () => {
  async function endedJob(webhook: JobItem['webhook']): Promise<JobItem> {
    const now = new Date();
    const job = queuedJobItem(
      { id: `job_store_relay_${++n}`, tenant: stack.tenant, ...(webhook ? { webhook } : {}) },
      now,
    );
    await store.jobs.put(t.create({ ...job, dispatch: 'held' }));
    const ended = await store.jobs.apply(
      t.cancel(job.id, { status: 'queued' }, now, {
        ttl: job.ttl,
        billing: endBilling(job, 'canceled', now),
      }),
    );
    return ended!;
  }

  it("enqueues the end event under the end's id, once, however often the end is relayed", async () => {
    const job = await endedJob({ url: 'https://hooks.example.com/a' });
    await Promise.all([relayEnd(store, job), relayEnd(store, job)]);
    const delivery = await getWebhookDelivery(store, `evt_${job.id}_canceled`);
    expect(delivery).toMatchObject({
      type: 'job.canceled',
      status: 'pending',
      tenant: stack.tenant,
      subject: { kind: 'job', id: job.id },
      occurredAt: job.endEvent!.at,
    });
    const messages = await drainMessages();
    expect(messages.length).toBeGreaterThanOrEqual(1);
    expect(new Set(messages.map((m) => JSON.stringify(m)))).toEqual(
      new Set([JSON.stringify({ v: 1, eventId: `evt_${job.id}_canceled` })]),
    );
    expect((await store.jobs.get(job.id))?.outboxPending).toBeUndefined();
  });

  it('enqueues nothing for an end the webhook does not subscribe to', async () => {
    const job = await endedJob({ url: 'https://hooks.example.com/b', events: ['job.succeeded'] });
    expect(jobWebhookEvent(job)).toBeUndefined();
    await relayEnd(store, job);
    expect(await getWebhookDelivery(store, `evt_${job.id}_canceled`)).toBeUndefined();
    expect(await drainMessages()).toEqual([]);
  });
});
