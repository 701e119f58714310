import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import { GetQueueAttributesCommand, GetQueueUrlCommand } from '@aws-sdk/client-sqs';
import { buildBatchTrigger, sweepJobs } from '@obelm/api';
import {
  type BatchSummary,
  type BatchView,
  type CreateBatchResponse,
  IdSchema,
  type JobView,
  s3Keys,
} from '@obelm/core';
import { type LocalStack, startLocalStack } from '@obelm/local';
import { demoItems, ensureDemoBundle, readNoiseArtifact } from '@obelm/models';
import { closeBatch } from '@obelm/store';
import type { Context, SQSEvent } from 'aws-lambda';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import {
  batchJobId,
  batchObjectOf,
  createdObjects,
  decodeEventKey,
} from '../../packages/api/src/batches/s3Event.ts';
import { encodeEventKey } from '../../packages/local/src/s3Events.ts';
import { api, demoPng, download, spawnWorker, TEST_WORKER_ENV, type WorkerProcess } from './helpers.ts';

/**
 * S3-triggered batches through the local stack: images posted with the batch's presigned form (or put with AWS
 * credentials) reach the batch trigger as S3 events (s3rver -> the batch queue -> the same middy handler the
 * cloud runs), each becomes one invert job, and the batch completes with its noise under batch-out/, a
 * summary.json and one signed batch.completed webhook. The stack runs no periodic sweep: completion must come
 * from the jobs' own ends (their outbox relay), not from a sweeper catching up.
 */

let stack: LocalStack;
let dataDir: string;
let worker: WorkerProcess;
let batchQueueUrl: string;
const receiver = { server: undefined as Server | undefined, url: '', deliveries: [] as Delivery[] };

interface Delivery {
  headers: Record<string, string>;
  body: string;
}

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'obelm-batches-'));
  const modelCache = join(dataDir, 'models');
  await ensureDemoBundle(modelCache);
  stack = await startLocalStack({
    dataDir,
    port: 0,
    worker: false,
    sweepEverySeconds: 0,
    queuePollSeconds: 1,
  });
  worker = spawnWorker({ ...stack.env, ...TEST_WORKER_ENV, OBELM_MODEL_CACHE: modelCache });
  batchQueueUrl = (await stack.deps.sqs.send(new GetQueueUrlCommand({ QueueName: 'obelm-batch' }))).QueueUrl!;

  // A webhook receiver on this machine: records every delivery, answers 204.
  receiver.server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      receiver.deliveries.push({
        headers: Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, String(v)])),
        body: Buffer.concat(chunks).toString('utf8'),
      });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => receiver.server!.listen(0, '127.0.0.1', resolve));
  receiver.url = `http://127.0.0.1:${(receiver.server.address() as AddressInfo).port}/hooks`;
}, 120_000);

afterAll(async () => {
  await worker?.stop();
  await new Promise((resolve) => receiver.server?.close(resolve));
  await stack?.stop();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

/** Posts one file with the batch's presigned form under `prefix + name`. */
async function postToBatch(batch: CreateBatchResponse, name: string, bytes: Uint8Array): Promise<Response> {
  const form = new FormData();
  for (const [k, v] of Object.entries(batch.upload.fields)) form.append(k, v);
  form.set('key', `${batch.prefix}${name}`);
  form.append('Content-Type', 'image/png');
  form.append('file', new Blob([bytes], { type: 'image/png' }));
  return fetch(batch.upload.url, { method: 'POST', body: form });
}

async function createBatch(request: object): Promise<CreateBatchResponse> {
  const res = await api<CreateBatchResponse>(stack, 'POST', '/v1/batches', request);
  if (res.status !== 201) throw new Error(`create batch: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body;
}

const getBatch = async (id: string) => (await api<BatchView>(stack, 'GET', `/v1/batches/${id}`)).body;

/**
 * Waits until every event sent so far has been handled: the bridge has sent it (a moment after the upload's
 * answer) and the trigger has deleted it (no message visible or in flight).
 */
async function drainBatchQueue(): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, 300));
  for (let empty = 0; empty < 2; ) {
    const { Attributes: a = {} } = await stack.deps.sqs.send(
      new GetQueueAttributesCommand({
        QueueUrl: batchQueueUrl,
        AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
      }),
    );
    const pending =
      Number(a['ApproximateNumberOfMessages']) + Number(a['ApproximateNumberOfMessagesNotVisible']);
    empty = pending === 0 ? empty + 1 : 0;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function waitForBatch(
  id: string,
  until: (b: BatchView) => boolean,
  timeoutMs = 60_000,
): Promise<BatchView> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const batch = await getBatch(id);
    if (until(batch)) return batch;
    if (Date.now() > deadline) throw new Error(`batch ${id}: ${JSON.stringify(batch)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Until the job's end has been relayed (its outbox done: usage, releases, batch completion check). */
async function waitForRelayed(jobId: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while ((await stack.deps.store.jobs.get(jobId))?.outboxPending) {
    if (Date.now() > deadline) throw new Error(`job ${jobId}: its end was not relayed`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Every job of a batch through GET /v1/jobs?batch=, page by page. */
async function batchJobs(id: string, limit: number): Promise<JobView[]> {
  const jobs: JobView[] = [];
  let cursor: string | undefined;
  do {
    const query = `batch=${id}&limit=${limit}${cursor ? `&cursor=${cursor}` : ''}`;
    const page = await api<{ jobs: JobView[]; nextCursor?: string }>(stack, 'GET', `/v1/jobs?${query}`);
    expect(page.status).toBe(200);
    jobs.push(...page.body.jobs);
    cursor = page.body.nextCursor;
  } while (cursor);
  return jobs;
}

describe('S3 event records', () => {
  test('keys decode as S3 encodes them, and only batch keys name a batch', () => {
    for (const key of ['batch/t/b/été ☀ 01.png', 'batch/t/b/100%+real (copy).png', 'batch/t/b/a/b c.png']) {
      expect(decodeEventKey(encodeEventKey(key))).toBe(key);
    }
    expect(encodeEventKey('batch/t/b/a b+c.png')).toBe('batch/t/b/a+b%2Bc.png');
    expect(batchObjectOf('batch/t/bat_1/dir/x y.png')).toEqual({
      tenant: 't',
      batchId: 'bat_1',
      name: 'dir/x y.png',
    });
    for (const key of [
      'batch/t/bat_1/',
      'batch/t/bat_1/dir/',
      'batch/t/bat_1',
      'uploads/t/x',
      'batch/t/b@d/x.png',
    ]) {
      expect(batchObjectOf(key), key).toBeUndefined();
    }
  });

  test('one job id per object version, whatever the number of events', () => {
    const a = { bucket: 'b', key: 'batch/t/bat_1/x.png', version: 'e:abc' };
    expect(batchJobId(a)).toBe(batchJobId({ ...a }));
    expect(batchJobId(a)).not.toBe(batchJobId({ ...a, version: 'e:abd' }));
    expect(batchJobId(a)).not.toBe(batchJobId({ ...a, key: 'batch/t/bat_1/y.png' }));
    expect(IdSchema.safeParse(batchJobId(a)).success).toBe(true);
    expect(batchJobId(a)).toMatch(/^job_b[0-9a-z]{26}$/);
  });

  test("S3's test event announces nothing; versionId wins over the ETag", () => {
    expect(createdObjects(JSON.stringify({ Service: 'Amazon S3', Event: 's3:TestEvent' }))).toEqual([]);
    const record = (object: object, eventName = 'ObjectCreated:Put') => ({
      Records: [
        { eventName, s3: { bucket: { name: 'b' }, object: { key: 'batch/t/b/a+b.png', ...object } } },
      ],
    });
    expect(createdObjects(JSON.stringify(record({ eTag: 'e1', versionId: 'v1' })))).toEqual([
      { bucket: 'b', key: 'batch/t/b/a b.png', version: 'v:v1', versionId: 'v1' },
    ]);
    expect(createdObjects(JSON.stringify(record({ eTag: 'e1' }))).map((o) => o.version)).toEqual(['e:e1']);
    expect(createdObjects(JSON.stringify(record({ eTag: 'e1' }, 'ObjectRemoved:Delete')))).toEqual([]);
  });
});

describe('the batch trigger handler', () => {
  const context = { getRemainingTimeInMillis: () => 30_000 } as Context;
  const sqsEvent = (...bodies: string[]): SQSEvent => ({
    Records: bodies.map((body, i) => ({
      messageId: `m${i}`,
      receiptHandle: `r${i}`,
      body,
      attributes: {
        ApproximateReceiveCount: '1',
        SentTimestamp: '0',
        SenderId: 'x',
        ApproximateFirstReceiveTimestamp: '0',
      },
      messageAttributes: {},
      md5OfBody: '',
      eventSource: 'aws:sqs',
      eventSourceARN: 'arn:aws:sqs:us-east-1:000000000000:obelm-batch',
      awsRegion: 'us-east-1',
    })),
  });

  test('drops what can never be a job (test event, not JSON, an unknown batch), reporting no failure', async () => {
    const handler = buildBatchTrigger(() => stack.deps);
    const unknownBatch = JSON.stringify({
      Records: [
        {
          eventName: 'ObjectCreated:Put',
          s3: {
            bucket: { name: stack.env['OBELM_BUCKET'] },
            object: { key: 'batch/dev/bat_nope/x.png', eTag: 'e' },
          },
        },
      ],
    });
    const out = await handler(
      sqsEvent(JSON.stringify({ Event: 's3:TestEvent' }), 'not json', unknownBatch),
      context,
    );
    expect(out).toEqual({ batchItemFailures: [] });
  });
});

describe('a batch of 20 uploads', () => {
  test('18 images and 2 non-images end with 18 noise artifacts, a correct summary and one batch.completed', async () => {
    const secret = (await api<{ secret: string }>(stack, 'GET', '/v1/webhooks/secret')).body.secret;
    const batch = await createBatch({
      prompt: 'circle',
      expectedImages: 20,
      webhook: { url: receiver.url },
      metadata: { run: 'batches-e2e' },
    });
    expect(batch.prefix).toBe(s3Keys.batchPrefix(stack.tenant, batch.id));
    expect(batch.batch).toMatchObject({
      id: batch.id,
      status: 'open',
      jobs: 0,
      counts: {},
      expectedImages: 20,
    });
    expect(batch.batch.webhook).toMatchObject({
      url: receiver.url,
      events: ['batch.completed'],
      deliveries: [],
    });

    // 16 plain names, one with spaces and unicode in a sub-folder, one with URL-encoding characters.
    const items = demoItems().slice(0, 18);
    const images = await Promise.all(items.map((item) => demoPng(item)));
    const names = [
      ...items
        .slice(0, 16)
        .map((item, n) => `${String(n).padStart(2, '0')}-${item.shape}-${item.colour}.png`),
      'holiday photos/été ☀ à la plage.png',
      '100%+real (copy) #1.png',
    ];
    const notImages: [string, Uint8Array][] = [
      ['notes.png', new TextEncoder().encode('these are not pixels')],
      ['broken.png', images[0]!.slice(0, 40)],
    ];

    // The first image, then the same bytes again: still one job.
    expect((await postToBatch(batch, names[0]!, images[0]!)).status).toBeLessThan(300);
    await waitForBatch(batch.id, (b) => b.jobs === 1);
    expect((await postToBatch(batch, names[0]!, images[0]!)).status).toBeLessThan(300);
    await drainBatchQueue();
    expect((await getBatch(batch.id)).jobs).toBe(1);

    const rest: [string, Uint8Array][] = [
      ...names.slice(1).map((name, n): [string, Uint8Array] => [name, images[n + 1]!]),
      ...notImages,
    ];
    for (const [name, bytes] of rest)
      expect((await postToBatch(batch, name, bytes)).status).toBeLessThan(300);

    // expectedImages closes it; it completes once the 20 jobs have ended.
    const done = await waitForBatch(batch.id, (b) => b.status === 'completed');
    expect(done).toMatchObject({ jobs: 20, counts: { succeeded: 18, failed: 2 }, expectedImages: 20 });
    expect(done.closedAt).toBeDefined();
    expect(Date.parse(done.completedAt!)).toBeGreaterThanOrEqual(Date.parse(done.closedAt!));

    const summary = JSON.parse(new TextDecoder().decode(await download(done.summary!.url))) as BatchSummary;
    const allNames = [...names, ...notImages.map(([name]) => name)];
    expect(summary).toMatchObject({
      batchId: batch.id,
      prefix: batch.prefix,
      counts: { failed: 2, succeeded: 18 },
    });
    expect(summary.images.map((i) => i.key)).toEqual(allNames.map((name) => `${batch.prefix}${name}`).sort());
    for (const entry of summary.images) {
      const name = entry.key.slice(batch.prefix.length);
      if (notImages.some(([n]) => n === name)) {
        expect(entry, name).toMatchObject({ status: 'failed', error: { code: 'invalid_image' } });
        expect(entry.noise).toBeUndefined();
      } else {
        expect(entry, name).toMatchObject({
          status: 'succeeded',
          noise: s3Keys.batchNoise(stack.tenant, batch.id, name),
        });
      }
    }

    // batch-out/ holds the 18 noise files, under the objects' own names, and summary.json.
    const listed = await stack.deps.s3.send(
      new ListObjectsV2Command({
        Bucket: stack.env['OBELM_BUCKET'],
        Prefix: s3Keys.batchSummary(stack.tenant, batch.id).replace(/summary\.json$/, ''),
      }),
    );
    expect((listed.Contents ?? []).map((o) => o.Key).sort()).toEqual(
      [
        ...names.map((name) => s3Keys.batchNoise(stack.tenant, batch.id, name)),
        s3Keys.batchSummary(stack.tenant, batch.id),
      ].sort(),
    );

    // GET /v1/jobs?batch= lists the 20 jobs across pages; a job's noise link is the batch-out/ file.
    const jobs = await batchJobs(batch.id, 7);
    expect(jobs).toHaveLength(20);
    expect(new Set(jobs.map((j) => j.id)).size).toBe(20);
    expect(jobs.filter((j) => j.status === 'succeeded')).toHaveLength(18);
    expect(jobs.every((j) => j.kind === 'invert' && j.metadata?.['run'] === 'batches-e2e')).toBe(true);
    const unicode = summary.images.find((i) => i.key.endsWith('à la plage.png'))!;
    const unicodeJob = jobs.find((j) => j.id === unicode.jobId)!;
    const noise = readNoiseArtifact(await download(unicodeJob.outputs!.noise!.url));
    expect(noise.meta.latentShape.length).toBeGreaterThan(0);
    const failed = (await api<{ jobs: JobView[] }>(stack, 'GET', `/v1/jobs?batch=${batch.id}&status=failed`))
      .body;
    expect(failed.jobs.map((j) => j.error?.code)).toEqual(['invalid_image', 'invalid_image']);

    // One batch.completed, signed for the tenant's secret, its data the batch view; never a second one.
    const deadline = Date.now() + 20_000;
    while (receiver.deliveries.length === 0 && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 100));
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const mine = receiver.deliveries.filter((d) => d.body.includes(batch.id));
    expect(mine).toHaveLength(1);
    const payload = new Webhook(secret).verify(mine[0]!.body, mine[0]!.headers) as {
      type: string;
      data: BatchView;
    };
    expect(mine[0]!.headers['webhook-id']).toBe(`evt_${batch.id}_completed`);
    expect(payload.type).toBe('batch.completed');
    expect(payload.data).toMatchObject({
      id: batch.id,
      status: 'completed',
      counts: { succeeded: 18, failed: 2 },
    });
    const delivered = await waitForBatch(batch.id, (b) => b.webhook?.deliveries[0]?.status === 'delivered');
    expect(delivered.webhook!.deliveries[0]!.attempts).toHaveLength(1);

    // Closed is closed: no second close, and a late image is ignored.
    const close = await api<{ error: { code: string } }>(stack, 'POST', `/v1/batches/${batch.id}/close`);
    expect(close.status).toBe(409);
    expect(close.body.error.code).toBe('batch_closed');
    expect((await postToBatch(batch, 'late.png', images[1]!)).status).toBeLessThan(300);
    await drainBatchQueue();
    expect((await getBatch(batch.id)).jobs).toBe(20);
  }, 120_000);

  test('a new version of a key runs again; AWS credentials may write directly; the sweeper completes a missed end', async () => {
    const batch = await createBatch({});
    const key = `${batch.prefix}direct upload.png`;
    const [a, b] = await Promise.all([demoPng(demoItems()[20]!), demoPng(demoItems()[21]!)]);
    const put = (body: Uint8Array) =>
      stack.deps.s3.send(
        new PutObjectCommand({
          Bucket: stack.env['OBELM_BUCKET'],
          Key: key,
          Body: body,
          ContentType: 'image/png',
        }),
      );
    await put(a);
    await waitForBatch(batch.id, (v) => v.jobs === 1);
    await put(a); // the same bytes: the same version
    await drainBatchQueue();
    expect((await getBatch(batch.id)).jobs).toBe(1);
    await put(b); // new bytes: a new version, a second job
    const two = await waitForBatch(batch.id, (v) => v.jobs === 2 && v.counts['succeeded'] === 2);
    expect(two.status).toBe('open');
    // Both ends relayed (the worker's relay of the last one would otherwise race the close below).
    for (const { id } of await batchJobs(batch.id, 10)) await waitForRelayed(id);

    // Closed behind the API's back (as if the close's completion check had crashed): the sweep completes it.
    await closeBatch(stack.deps.store, batch.id, new Date());
    expect((await getBatch(batch.id)).status).toBe('closed');
    const report = await sweepJobs(stack.deps, { staleAfterMs: 60_000 });
    expect(report.batches).toContain(batch.id);
    const done = await getBatch(batch.id);
    expect(done).toMatchObject({ status: 'completed', jobs: 2, counts: { succeeded: 2 } });
    expect(done.webhook).toBeUndefined();
    const summary = JSON.parse(new TextDecoder().decode(await download(done.summary!.url))) as BatchSummary;
    expect(summary.images.map((i) => i.key)).toEqual([key, key]);
    expect(new Set(summary.images.map((i) => i.jobId)).size).toBe(2);
  }, 60_000);

  test('an empty batch completes at its close; unknown batches are 404', async () => {
    const batch = await createBatch({ steps: 4 });
    expect(batch.batch.status).toBe('open');
    const closed = await api<BatchView>(stack, 'POST', `/v1/batches/${batch.id}/close`);
    expect(closed.status).toBe(200);
    expect(closed.body).toMatchObject({ status: 'completed', jobs: 0, counts: {} });
    expect(closed.body.summary?.url).toBeDefined();

    for (const path of ['/v1/batches/bat_nope', '/v1/batches/no%20such', `/v1/jobs?batch=bat_nope`]) {
      const res = await api<{ error: { code: string } }>(stack, 'GET', path);
      expect(res.status, path).toBe(404);
      expect(res.body.error.code).toBe('batch_not_found');
    }
    // Settings are checked like a job's: steps beyond the model's range, a webhook the guard refuses.
    expect((await api(stack, 'POST', '/v1/batches', { steps: 100_000 })).status).toBe(400);
    const guarded = await api<{ error: { code: string } }>(stack, 'POST', '/v1/batches', {
      webhook: { url: 'http://169.254.169.254/latest' },
    });
    expect(guarded.body.error.code).toBe('invalid_webhook');
  });
});
