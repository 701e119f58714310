import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { DeleteMessageCommand, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { sweepJobs } from '@obelm/api';
import {
  endBilling,
  type JobView,
  jobTransitions,
  WEBHOOK_MAX_ATTEMPTS,
  type WebhookSecretResponse,
} from '@obelm/core';
import { queuedJobItem } from '@obelm/core/testing';
import { type LocalStack, startLocalStack } from '@obelm/local';
import { ensureDemoBundle } from '@obelm/models';
import { getWebhookDelivery, relayEnd } from '@obelm/store';
import sharp from 'sharp';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, base64, createJob, getJob, spawnWorker, TEST_WORKER_ENV, waitForJob } from './helpers.ts';

/**
 * Webhooks end to end through the local stack: a job's end goes through the outbox relay, the webhooks queue and
 * the same middy SQS dispatcher the cloud runs, to a real receiver on 127.0.0.1 that verifies every delivery
 * with the `standardwebhooks` package. The retry schedule runs at OBELM_WEBHOOK_RETRY_SCALE (a test setting),
 * so the fifteen attempts of about a day take about two seconds.
 */

/** Core's schedule (16-33 h of waits over 15 attempts) shrunk to about 1.2-2.3 s. */
const RETRY_SCALE = 0.00002;

let stack: LocalStack;
let dataDir: string;
let modelCache: string;
const receiver = {
  server: undefined as Server | undefined,
  port: 0,
  deliveries: [] as Delivery[],
  /** The status each path answers (200 unless set). */
  answers: new Map<string, number>(),
};

interface Delivery {
  path: string;
  headers: Record<string, string>;
  body: string;
  status: number;
}

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'obelm-webhooks-'));
  modelCache = join(dataDir, 'models');
  await ensureDemoBundle(modelCache);
  // No sweep on a schedule: the crash test runs the sweeper itself.
  stack = await startLocalStack({
    dataDir,
    port: 0,
    worker: false,
    sweepEverySeconds: 0,
    queuePollSeconds: 1,
    serviceEnv: { OBELM_WEBHOOK_RETRY_SCALE: String(RETRY_SCALE) },
  });
  await startReceiver(0);
});
afterAll(async () => {
  await stopReceiver();
  await stack?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

/** The receiver: records every request, answers its path's status. */
async function startReceiver(port: number): Promise<void> {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const path = req.url ?? '/';
      const status = receiver.answers.get(path) ?? 200;
      receiver.deliveries.push({
        path,
        headers: flat(req.headers),
        body: Buffer.concat(chunks).toString(),
        status,
      });
      res.writeHead(status, { 'content-type': 'text/plain' }).end(status < 300 ? 'ok' : 'no');
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  receiver.server = server;
  receiver.port = (server.address() as AddressInfo).port;
}

async function stopReceiver(): Promise<void> {
  const server = receiver.server;
  receiver.server = undefined;
  if (!server) return;
  const closed = new Promise((resolve) => server.close(resolve));
  server.closeAllConnections();
  await closed;
}

const flat = (headers: IncomingHttpHeaders): Record<string, string> =>
  Object.fromEntries(
    Object.entries(headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(', ') : (v ?? '')]),
  );

const hookUrl = (path: string) => `http://127.0.0.1:${receiver.port}${path}`;
const deliveriesTo = (path: string) => receiver.deliveries.filter((d) => d.path === path);

/** Whether `secret` verifies the delivery (Standard Webhooks: id, timestamp, body, one of the signatures). */
function verifies(delivery: Delivery, secret: string): boolean {
  try {
    new Webhook(secret).verify(delivery.body, delivery.headers);
    return true;
  } catch {
    return false;
  }
}

const secretNow = async () => (await api<WebhookSecretResponse>(stack, 'GET', '/v1/webhooks/secret')).body;

async function until<T>(
  what: string,
  probe: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 20_000,
) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** A queued job (no worker runs) canceled through the API: its end event is job.canceled. */
async function canceledJob(webhook: { url: string; events?: string[] }): Promise<JobView> {
  const job = await createJob(stack, { kind: 'sample', seed: 1, steps: 4, webhook });
  const res = await api<JobView>(stack, 'POST', `/v1/jobs/${job.id}/cancel`);
  expect(res.body.status).toBe('canceled');
  return res.body;
}

/** The job view once its delivery is no longer pending. */
const settled = (jobId: string, timeoutMs?: number) =>
  until(
    `the delivery of ${jobId}`,
    async () => {
      const view = await getJob(stack, jobId);
      const status = view.webhook?.delivery?.status;
      return status && status !== 'pending' ? view : undefined;
    },
    timeoutMs,
  );

describe('job end events', () => {
  it('delivers job.canceled, signed, with the job view as GET returns it', async () => {
    const { secret } = await secretNow();
    expect(secret).toMatch(/^whsec_/);
    const job = await canceledJob({ url: hookUrl('/canceled') });
    const view = await settled(job.id);

    const [delivery, ...more] = deliveriesTo('/canceled');
    expect(more).toEqual([]);
    expect(verifies(delivery!, secret)).toBe(true);
    expect(delivery!.headers['webhook-id']).toBe(`evt_${job.id}_canceled`);
    expect(delivery!.headers['content-type']).toBe('application/json');
    const body = JSON.parse(delivery!.body) as { type: string; timestamp: string; data: JobView };
    expect(body.type).toBe('job.canceled');
    expect(body.timestamp).toBe(job.finishedAt);
    expect(body.data).toMatchObject({ id: job.id, status: 'canceled', finishedAt: job.finishedAt });
    expect(body.data.webhook).toMatchObject({ url: hookUrl('/canceled') });

    expect(view.webhook).toMatchObject({
      url: hookUrl('/canceled'),
      events: ['job.succeeded', 'job.failed', 'job.canceled', 'job.expired'],
      delivery: { id: `evt_${job.id}_canceled`, type: 'job.canceled', status: 'delivered' },
    });
    expect(view.webhook!.delivery!.attempts).toEqual([
      { at: expect.any(String), status: 200, latencyMs: expect.any(Number) },
    ]);
  });

  it('delivers job.succeeded and job.failed from the worker, and nothing unsubscribed', async () => {
    const worker = spawnWorker({ ...stack.env, ...TEST_WORKER_ENV, OBELM_MODEL_CACHE: modelCache });
    try {
      const { secret } = await secretNow();
      const ok = await createJob(stack, {
        kind: 'sample',
        seed: 1,
        steps: 4,
        webhook: { url: hookUrl('/ok') },
      });
      const bad = await createJob(stack, {
        kind: 'invert',
        image: { base64: base64(await undecodablePng()) },
        webhook: { url: hookUrl('/bad'), events: ['job.failed'] },
      });
      const quiet = await createJob(stack, {
        kind: 'sample',
        seed: 2,
        steps: 4,
        webhook: { url: hookUrl('/quiet'), events: ['job.failed'] },
      });
      const succeeded = await settled(ok.id);
      const failed = await settled(bad.id);
      expect((await waitForJob(stack, quiet.id)).status).toBe('succeeded');

      const [toOk] = deliveriesTo('/ok');
      expect(verifies(toOk!, secret)).toBe(true);
      const okBody = JSON.parse(toOk!.body) as { type: string; data: JobView };
      expect(okBody.type).toBe('job.succeeded');
      expect(okBody.data.status).toBe('succeeded');
      // The data is the view as GET returns it: fresh links to the outputs.
      expect(okBody.data.outputs?.image?.url).toMatch(/^http/);
      expect(succeeded.webhook?.delivery?.status).toBe('delivered');

      const [toBad] = deliveriesTo('/bad');
      expect(verifies(toBad!, secret)).toBe(true);
      const badBody = JSON.parse(toBad!.body) as { type: string; data: JobView };
      expect(badBody.type).toBe('job.failed');
      expect(badBody.data.error?.code).toBe('invalid_image');
      expect(failed.webhook).toMatchObject({ events: ['job.failed'], delivery: { status: 'delivered' } });

      // The quiet job's end (job.succeeded) is not among its events: no delivery, no delivery item.
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(deliveriesTo('/quiet')).toEqual([]);
      const quietView = await getJob(stack, quiet.id);
      expect(quietView.webhook).toEqual({ url: hookUrl('/quiet'), events: ['job.failed'] });
    } finally {
      await worker.stop();
    }
  });
});

describe('retries', () => {
  it('delivers later, under the same webhook-id, to a receiver that was down', async () => {
    const { secret } = await secretNow();
    const port = receiver.port;
    await stopReceiver();
    // Up again after a few refused connections, then still failing twice (503) before it takes the event.
    const job = await canceledJob({ url: `http://127.0.0.1:${port}/later` });
    await until('two refused attempts', async () => {
      const attempts = (await getJob(stack, job.id)).webhook?.delivery?.attempts ?? [];
      return attempts.length >= 2 || undefined;
    });
    let answered = 0;
    receiver.answers.set('/later', 503);
    await startReceiver(port);
    const server = receiver.server!;
    server.prependListener('request', () => {
      if (++answered > 2) receiver.answers.set('/later', 200);
    });

    const view = await settled(job.id);
    const delivery = view.webhook!.delivery!;
    expect(delivery.status).toBe('delivered');
    const refused = delivery.attempts.filter((a) => a.status === undefined);
    expect(refused.length).toBeGreaterThanOrEqual(2);
    expect(refused.every((a) => typeof a.error === 'string')).toBe(true);
    expect(delivery.attempts.slice(-3).map((a) => a.status)).toEqual([503, 503, 200]);
    expect(delivery.attempts.length).toBeLessThanOrEqual(WEBHOOK_MAX_ATTEMPTS);
    // Each attempt came later than the one before (the backoff).
    const times = delivery.attempts.map((a) => Date.parse(a.at));
    expect(times).toEqual([...times].sort((a, b) => a - b));

    const received = deliveriesTo('/later');
    expect(received.map((d) => d.status)).toEqual([503, 503, 200]);
    expect(new Set(received.map((d) => d.headers['webhook-id']))).toEqual(
      new Set([`evt_${job.id}_canceled`]),
    );
    expect(received.every((d) => verifies(d, secret))).toBe(true);
  });

  it('gives up after WEBHOOK_MAX_ATTEMPTS into the DLQ, shows every attempt, and redelivers on request', async () => {
    receiver.answers.set('/broken', 500);
    const job = await canceledJob({ url: hookUrl('/broken') });
    const view = await settled(job.id, 30_000);
    const delivery = view.webhook!.delivery!;
    expect(delivery.status).toBe('failed');
    expect(delivery.attempts).toHaveLength(WEBHOOK_MAX_ATTEMPTS);
    expect(delivery.attempts.every((a) => a.status === 500 && a.latencyMs >= 0)).toBe(true);
    expect(delivery.nextAttemptAt).toBeUndefined();
    expect(deliveriesTo('/broken')).toHaveLength(WEBHOOK_MAX_ATTEMPTS);
    expect(await takeFromDlq(delivery.id)).toBe(true);

    // Fixed: a redelivery starts a fresh schedule under the same id; the failed attempts stay listed.
    receiver.answers.set('/broken', 200);
    const res = await api<JobView>(stack, 'POST', `/v1/jobs/${job.id}/webhook/redeliver`);
    expect(res.status).toBe(202);
    expect(res.body.webhook?.delivery).toMatchObject({ status: 'pending', attempts: delivery.attempts });
    const again = await settled(job.id);
    expect(again.webhook!.delivery!.status).toBe('delivered');
    expect(again.webhook!.delivery!.attempts).toHaveLength(WEBHOOK_MAX_ATTEMPTS + 1);
    const received = deliveriesTo('/broken');
    expect(received.at(-1)!.status).toBe(200);
    expect(new Set(received.map((d) => d.headers['webhook-id']))).toEqual(new Set([delivery.id]));

    // Delivered: a redelivery sends it once more.
    expect((await api(stack, 'POST', `/v1/jobs/${job.id}/webhook/redeliver`)).status).toBe(202);
    await until('the second redelivery', () => deliveriesTo('/broken').length === WEBHOOK_MAX_ATTEMPTS + 2);
  });

  it('refuses a redelivery with nothing to send (409), and of an unknown job (404)', async () => {
    const plain = await createJob(stack, { kind: 'sample', seed: 3, steps: 4 });
    const noHook = await api<{ error: { code: string } }>(
      stack,
      'POST',
      `/v1/jobs/${plain.id}/webhook/redeliver`,
    );
    expect(noHook.status).toBe(409);
    expect(noHook.body.error.code).toBe('no_webhook_event');
    const queued = await createJob(stack, {
      kind: 'sample',
      seed: 4,
      steps: 4,
      webhook: { url: hookUrl('/x') },
    });
    const notEnded = await api<{ error: { code: string } }>(
      stack,
      'POST',
      `/v1/jobs/${queued.id}/webhook/redeliver`,
    );
    expect(notEnded.status).toBe(409);
    expect(notEnded.body.error.code).toBe('no_webhook_event');
    for (const id of [plain.id, queued.id]) await api(stack, 'POST', `/v1/jobs/${id}/cancel`);
    const missing = await api<{ error: { code: string } }>(
      stack,
      'POST',
      '/v1/jobs/job_missing/webhook/redeliver',
    );
    expect(missing.status).toBe(404);
  });
});

/** Takes the DLQ's message of `eventId` out of it; true if it was there. */
async function takeFromDlq(eventId: string): Promise<boolean> {
  const QueueUrl = stack.env['OBELM_WEBHOOKS_DLQ_URL']!;
  const { Messages = [] } = await stack.deps.sqs.send(
    new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }),
  );
  let found = false;
  for (const m of Messages) {
    if ((JSON.parse(m.Body!) as { eventId: string }).eventId !== eventId) continue;
    found = true;
    await stack.deps.sqs.send(new DeleteMessageCommand({ QueueUrl, ReceiptHandle: m.ReceiptHandle }));
  }
  return found;
}

describe('secret rotation', () => {
  it('signs with the old and the new secret during the grace period', async () => {
    const before = await secretNow();
    const rotated = await api<WebhookSecretResponse>(stack, 'POST', '/v1/webhooks/secret/rotate');
    expect(rotated.status).toBe(200);
    expect(rotated.body.secret).not.toBe(before.secret);
    expect(rotated.body.previous?.secret).toBe(before.secret);

    const job = await canceledJob({ url: hookUrl('/rotated') });
    await settled(job.id);
    const [delivery] = deliveriesTo('/rotated');
    expect(delivery!.headers['webhook-signature']!.split(' ')).toHaveLength(2);
    expect(verifies(delivery!, rotated.body.secret)).toBe(true);
    expect(verifies(delivery!, before.secret)).toBe(true);
    expect(verifies(delivery!, `whsec_${Buffer.from('not the secret at all!!!').toString('base64')}`)).toBe(
      false,
    );
  });
});

describe('a crash between the end and the enqueue', () => {
  it('neither loses the event nor delivers it under two ids: the sweeper relays it once', async () => {
    const now = new Date();
    const job = queuedJobItem(
      { id: `job_webhook_crash_${Date.now()}`, tenant: stack.tenant, webhook: { url: hookUrl('/crash') } },
      now,
    );
    // Ended as a process that crashed right after its terminal transition leaves it: no relay, no event yet.
    await stack.deps.store.jobs.put(jobTransitions.create({ ...job, dispatch: 'held' }));
    const ended = await stack.deps.store.jobs.apply(
      jobTransitions.cancel(job.id, { status: 'queued' }, now, {
        ttl: job.ttl,
        billing: endBilling(job, 'canceled', now),
      }),
    );
    expect(ended?.outboxPending).toBe(true);
    const eventId = `evt_${job.id}_canceled`;
    expect(await getWebhookDelivery(stack.deps.store, eventId)).toBeUndefined();

    const swept = await sweepJobs(stack.deps, { staleAfterMs: 60_000 });
    expect(swept.relayed).toContain(job.id);
    await settled(job.id);
    // The crashed relay's own retry, late: the event exists and is delivered, nothing more is sent.
    await relayEnd(stack.deps.store, ended!);
    await sweepJobs(stack.deps, { staleAfterMs: 60_000 });
    await new Promise((resolve) => setTimeout(resolve, 500));

    const received = deliveriesTo('/crash');
    expect(received).toHaveLength(1);
    expect(received[0]!.headers['webhook-id']).toBe(eventId);
    expect(JSON.parse(received[0]!.body)).toMatchObject({ type: 'job.canceled', data: { id: job.id } });
    expect((await getWebhookDelivery(stack.deps.store, eventId))?.attempts).toHaveLength(1);
  });
});

describe('the delivery guard at creation', () => {
  it('refuses a private address with 400 invalid_webhook', async () => {
    const res = await api<{ error: { code: string } }>(stack, 'POST', '/v1/jobs', {
      kind: 'sample',
      webhook: { url: 'http://10.0.0.1/hook' },
    });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('invalid_webhook');
  });
});

/** A PNG that passes the API's header checks but whose pixels cannot be decoded (the worker fails the job). */
async function undecodablePng(): Promise<Buffer> {
  const png = Buffer.from(
    await sharp({ create: { width: 32, height: 32, channels: 3, background: '#c33' } })
      .png()
      .toBuffer(),
  );
  const idat = png.indexOf('IDAT');
  const length = png.readUInt32BE(idat - 4);
  png.fill(0x55, idat + 4, idat + 4 + length);
  png.writeUInt32BE(crc32(png.subarray(idat, idat + 4 + length)), idat + 4 + length);
  return png;
}
