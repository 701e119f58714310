import { readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { DeleteObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { CreateQueueCommand, PurgeQueueCommand } from '@aws-sdk/client-sqs';
import {
  buildBatchTrigger,
  buildWebhookDispatcher,
  createDeps,
  type Deps,
  publishModel,
  ROUTES,
  SETTLE_MS,
  sweepJobs,
} from '@obelm/api';
import {
  type BatchView,
  type CreateBatchResponse,
  createLogger,
  type HandlerName,
  type JobView,
  type LambdaHandlerName,
  QUEUES,
  s3Keys,
  staleAfterMs,
} from '@obelm/core';
import { createApiServer, type LocalStack } from '@obelm/local';
import { catalogEntryOf, ensureDemoBundle, readManifest } from '@obelm/models';
import { setTenantLimits } from '@obelm/store';
import { appendSdkCall, recordSdkCalls, SDK_RECORD_ENV, type SdkCall } from '@obelm/worker';
import type { Context, SQSEvent, SQSRecord } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { grants, HANDLER_GRANTS, WORKER_GRANTS } from '../../infra/access.ts';
import { type QueueConsumer, startQueueConsumer } from '../../packages/local/src/queueConsumer.ts';
import { encodeEventKey } from '../../packages/local/src/s3Events.ts';
import {
  api,
  base64,
  createJob,
  demoPng,
  startTestStack,
  type TestStack,
  type WorkerProcess,
  waitForJob,
} from '../e2e/helpers.ts';
import { FAKE_ARNS } from './fakeArns.ts';
import { allowing, type IamRequest, type ResolvedGrant, requestsOf, resolveGrants } from './iam.ts';

/**
 * IAM coverage: every AWS SDK command each Lambda handler and the worker send, recorded while a local stack
 * serves every route and runs a job of every kind (uploads, noise reuse, an S3 model bundle, cancels, a
 * checkpoint and its resume, missing objects, the sweeper), must be allowed by that function's grants in
 * infra/access.ts; and every action on every resource those grants allow must have been used, or be listed
 * below with the reason the tests cannot see it. A handler that starts a new call, or a grant left behind,
 * fails here instead of as a 403 in the cloud.
 *
 * The API is served here by the stack's own adapter and routes, with one set of clients per handler (as each
 * Lambda has its own) that records under the handler's name; the worker is the container program, recording
 * through its clients (OBELM_TEST_RECORD_SDK). The queue handlers too: the webhook dispatcher consumes a webhooks
 * queue of this test's own (every recorded function and worker sends there, so the stack's own dispatcher never
 * takes a delivery) through the stack's queue consumer, as Lambda's event source would; the batch trigger is
 * invoked with S3 events for objects under batches' prefixes, as the batch queue hands them out (objects never
 * uploaded, so the stack's own trigger, fed by its bucket's events, never sees them).
 */

type Fn = LambdaHandlerName | 'worker';

/**
 * Allowed (grant, action, resource) triples no test run uses, each with why. Keys: `fn grant action resource`
 * with the fake ARNs.
 */
const EVENT_SOURCE =
  "cloud only: Lambda's event source mapping polls the queue with the function's role (locally the stack's queue consumer, packages/local/src/queueConsumer.ts); the handler's code never calls it";
const KMS =
  'cloud only: the local stack seals secrets with AES (OBELM_SECRETS_KEY, store secrets.ts); the grant and its encryption context are checked in test/infra/secrets.test.ts';
const UNSEEN: Record<string, string> = {
  'cancelJob jobsRead s3:GetObject arn:aws:s3:::b/jobs/*':
    'toJobView presigns the outputs a job has; a job that can still be canceled has none yet',
  'createJob fleetStart ecs:DescribeServices arn:aws:ecs:r:a:service/c/worker': 'cloud only: no ECS locally',
  'createJob fleetStart ecs:UpdateService arn:aws:ecs:r:a:service/c/worker': 'cloud only: no ECS locally',
  'cancelJob jobsSend sqs:SendMessage arn:aws:sqs:r:a:jobs':
    "a job's end releases a held job of its tenant; this run gives the tenant a slot for every job (held jobs: test/local/fairShare.test.ts)",
  'worker jobsSend sqs:SendMessage arn:aws:sqs:r:a:jobs':
    "a job's end releases a held job of its tenant; this run gives the tenant a slot for every job (held jobs: test/local/fairShare.test.ts)",
  'cancelJob batchOutRead s3:GetObject arn:aws:s3:::b/batch-out/*':
    "toJobView presigns a batch job's noise once it exists; a job that can still be canceled has none yet",
  ...Object.fromEntries(
    (['webhookDispatcher webhooksConsume', 'batchTrigger batchConsume'] as const).flatMap((fnGrant) => {
      const queue = fnGrant.startsWith('webhook') ? 'webhooks' : 'batch';
      return ['sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:GetQueueAttributes'].map((action) => [
        `${fnGrant} ${action} arn:aws:sqs:r:a:${queue}`,
        EVENT_SOURCE,
      ]);
    }),
  ),
  ...Object.fromEntries(
    ['getWebhookSecret', 'rotateWebhookSecret', 'webhookDispatcher'].flatMap((fn) => [
      [`${fn} kmsSeal kms:Encrypt arn:aws:kms:r:a:key/k`, KMS],
      [`${fn} kmsOpen kms:Decrypt arn:aws:kms:r:a:key/k`, KMS],
    ]),
  ),
  'batchTrigger fleetStart ecs:DescribeServices arn:aws:ecs:r:a:service/c/worker':
    'cloud only: no ECS locally',
  'batchTrigger fleetStart ecs:UpdateService arn:aws:ecs:r:a:service/c/worker': 'cloud only: no ECS locally',
  'batchTrigger itemDelete dynamodb:DeleteItem arn:aws:dynamodb:r:a:table/t':
    "takes back a job pointer written just as its batch completed (a race between an object's event and the batch's last job's end: test/e2e/batches.test.ts's territory, not this run's)",
};

let t: TestStack;
let recordFile: string;
let server: ReturnType<typeof createApiServer>;
let receiver: ReturnType<typeof createServer>;
let dispatcher: QueueConsumer | undefined;
/** The webhooks queue of this run (see above). */
let webhooksQueueUrl: string;
const clients: Deps[] = [];
const workers: WorkerProcess[] = [];

/**
 * What every recorded function and worker runs with: the stack's settings, webhook events sent to this run's
 * queue, and webhook retries a hundred-thousandth of their real delays (the failing receiver's fifteen attempts
 * in about a second instead of ten).
 */
const recordedEnv = (): Record<string, string> => ({
  ...t.stack.env,
  OBELM_WEBHOOKS_QUEUE_URL: webhooksQueueUrl,
  OBELM_WEBHOOK_RETRY_SCALE: '0.00001',
});

/** Clients of one function, recording under its name. */
function recordedDeps(fn: LambdaHandlerName): Deps {
  const deps = createDeps(recordedEnv());
  for (const client of [deps.s3, deps.sqs, deps.db]) recordSdkCalls(client, recordFile, fn);
  clients.push(deps);
  return deps;
}

/** createPresignedPost sends no command: the form it signed is recorded from the answer. */
function recordUploadForm(fn: HandlerName, form: { fields: Record<string, string> }): void {
  appendSdkCall(recordFile, {
    fn,
    command: 'PresignedPost',
    bucket: t.stack.deps.config.OBELM_BUCKET,
    ...(form.fields['key'] !== undefined ? { key: form.fields['key'] } : {}),
  });
}

/** POST /v1/jobs with an Idempotency-Key: the job view, or the error body. */
async function post(s: LocalStack, body: object, key: string) {
  const res = await fetch(`${s.apiUrl}/v1/jobs`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${s.devKey}`,
      'content-type': 'application/json',
      'idempotency-key': key,
    },
    body: JSON.stringify(body),
  });
  return (await res.json()) as JobView & { error?: { code: string } };
}

/** An SQS record of the batch queue carrying S3's ObjectCreated event for `key` (S3's format: key URL-encoded). */
function objectCreated(bucket: string, key: string, eTag: string): SQSRecord {
  const s3 = { bucket: { name: bucket }, object: { key: encodeEventKey(key), size: 1024, eTag } };
  return {
    messageId: `${key}#${eTag}`,
    receiptHandle: eTag,
    body: JSON.stringify({ Records: [{ eventSource: 'aws:s3', eventName: 'ObjectCreated:Put', s3 }] }),
    attributes: {
      ApproximateReceiveCount: '1',
      SentTimestamp: String(Date.now()),
      SenderId: 'AIDAS3',
      ApproximateFirstReceiveTimestamp: String(Date.now()),
    },
    messageAttributes: {},
    md5OfBody: '',
    eventSource: 'aws:sqs',
    eventSourceARN: 'arn:aws:sqs:us-east-1:000000000000:obelm-batch',
    awsRegion: 'us-east-1',
  };
}

/** A Lambda invocation context, as the event source gives one (the handlers read only the time left). */
const lambdaContext = (fn: string): Context =>
  ({ functionName: fn, awsRequestId: fn, getRemainingTimeInMillis: () => 30_000 }) as unknown as Context;

const recorded = (): SdkCall[] =>
  readFileSync(recordFile, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as SdkCall);

beforeAll(async () => {
  t = await startTestStack();
  recordFile = join(t.stack.dataDir, 'sdk-calls.jsonl');
  const { deps: admin, tenant } = t.stack;
  const bucket = admin.config.OBELM_BUCKET;

  // An S3 model bundle (the demo's files under models/shapes/) and its catalog entry: arranged, not recorded.
  const demoDir = await ensureDemoBundle(join(t.stack.dataDir, 'built'));
  for (const name of readdirSync(demoDir)) {
    const Key = `${s3Keys.model('shapes')}${name}`;
    await admin.s3.send(
      new PutObjectCommand({ Bucket: bucket, Key, Body: readFileSync(join(demoDir, name)) }),
    );
  }
  await publishModel(admin.store, catalogEntryOf(await readManifest(demoDir), { id: 'shapes' }));

  // A monthly budget (createJob then reads the month's usage) and dispatch slots for every job queued below
  // while no worker runs (each is sent at once, none held).
  await setTenantLimits(admin.store, tenant, { monthlyBudgetMicros: 10 ** 12, parallelJobs: 100 });

  // A webhook receiver on 127.0.0.1: /ok answers 204, /flaky 503 until `receiverUp`.
  let receiverUp = false;
  receiver = createServer((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(req.url === '/ok' || receiverUp ? 204 : 503).end());
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  const hook = (path: 'ok' | 'flaky') =>
    `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/${path}`;
  // This run's webhooks queue (created again whenever the in-memory SQS stand-in restarts).
  const ensureWebhooksQueue = async () => {
    const created = await admin.sqs.send(
      new CreateQueueCommand({
        QueueName: 'obelm-coverage-webhooks',
        Attributes: { VisibilityTimeout: String(QUEUES.webhooks.visibilityTimeoutSeconds) },
      }),
    );
    webhooksQueueUrl = created.QueueUrl!;
  };
  await ensureWebhooksQueue();
  const dispatcherDeps = recordedDeps('webhookDispatcher');
  dispatcher = startQueueConsumer({
    sqs: admin.sqs,
    queueUrl: webhooksQueueUrl,
    handler: buildWebhookDispatcher(() => dispatcherDeps),
    log: createLogger('coverage'),
    pollSeconds: 1,
  });
  const triggerDeps = recordedDeps('batchTrigger');
  const batchTrigger = buildBatchTrigger(() => triggerDeps);
  /** The batch trigger, invoked with the events of objects created under `batch`'s prefix. */
  const objectsCreated = async (batch: CreateBatchResponse, names: string[]) => {
    const event: SQSEvent = {
      Records: names.map((name) => objectCreated(bucket, `${batch.prefix}${name}`, `etag-${name.length}`)),
    };
    const response = await batchTrigger(event, lambdaContext('batchTrigger'));
    expect(response?.batchItemFailures ?? []).toEqual([]);
  };

  const byHandler = new Map<HandlerName, Deps>();
  server = createApiServer(
    ROUTES.map((route) => ({
      ...route,
      handler: route.build(() => {
        const deps = byHandler.get(route.handler) ?? recordedDeps(route.handler);
        byHandler.set(route.handler, deps);
        return deps;
      }),
    })),
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const s: LocalStack = { ...t.stack, apiUrl: `http://127.0.0.1:${port}` };
  const spawn = (env: Record<string, string> = {}) => {
    const worker = t.spawnWorker({
      ...env,
      OBELM_WEBHOOKS_QUEUE_URL: webhooksQueueUrl,
      [SDK_RECORD_ENV]: recordFile,
    });
    workers.push(worker);
    return worker;
  };
  const done = async (job: JobView, status = 'succeeded') => {
    const end = await waitForJob(s, job.id, undefined, 60_000);
    expect(end.status, JSON.stringify(end.error)).toBe(status);
    return end;
  };
  /** The job once its webhook delivery reached `status`. */
  const delivered = (job: JobView, status: 'delivered' | 'failed' = 'delivered') =>
    waitForJob(s, job.id, undefined, 60_000, (j) => j.webhook?.delivery?.status === status);
  const createBatch = async (body: object) => {
    const res = await api<CreateBatchResponse>(s, 'POST', '/v1/batches', body);
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    return res.body;
  };
  /** Polls GET /v1/batches/{id} until `until` holds. */
  const batchUntil = async (id: string, until: (b: BatchView) => boolean) => {
    for (const deadline = Date.now() + 60_000; ; ) {
      const view = (await api<BatchView>(s, 'GET', `/v1/batches/${id}`)).body;
      if (until(view)) return view;
      if (Date.now() > deadline) throw new Error(`batch ${id}: ${JSON.stringify(view)}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  };
  const jobsOf = async (batchId: string) =>
    (await api<{ jobs: JobView[] }>(s, 'GET', `/v1/jobs?batch=${batchId}`)).body.jobs;
  const redCircle = await demoPng({ shape: 'circle', colour: 'red' });
  const square = await demoPng({ shape: 'square', colour: 'green', background: 'forest', position: 'right' });

  // No worker yet: routes, an upload named before its file is there, a queued cancel, the sweeper.
  expect((await api(s, 'GET', '/v1/openapi.json')).status).toBe(200);
  expect((await api(s, 'GET', '/v1/models')).status).toBe(200);
  // The signing secret: created by the first GET, then rotated.
  expect((await api(s, 'GET', '/v1/webhooks/secret')).status).toBe(200);
  expect((await api(s, 'POST', '/v1/webhooks/secret/rotate')).status).toBe(200);
  const upload = await api<{ url: string; fields: Record<string, string>; uploadId: string }>(
    s,
    'POST',
    '/v1/uploads',
    { contentType: 'image/png' },
  );
  expect(upload.status).toBe(201);
  recordUploadForm('createUpload', upload.body);
  const edit = {
    kind: 'edit',
    image: { uploadId: upload.body.uploadId },
    sourcePrompt: 'red circle',
    targetPrompt: 'blue circle',
  };
  // HeadObject of a missing object: 404 -> 409 upload_pending (a 403 would be a 500).
  const pending = await api<{ error: { code: string } }>(s, 'POST', '/v1/jobs', edit);
  expect(pending.body.error?.code).toBe('upload_pending');
  const form = new FormData();
  for (const [k, v] of Object.entries(upload.body.fields)) form.append(k, v);
  form.append('file', new Blob([redCircle], { type: 'image/png' }));
  expect((await fetch(upload.body.url, { method: 'POST', body: form })).status).toBeLessThan(300);

  const edited = await post(s, edit, 'edit-once');
  const inverted = await createJob(s, { kind: 'invert', image: { base64: base64(redCircle) } });
  const fromBundle = await createJob(s, { kind: 'sample', model: 'shapes', prompt: 'red circle', steps: 6 });
  const interpolated = await createJob(s, {
    kind: 'interpolate',
    images: [{ base64: base64(redCircle) }, { base64: base64(square) }],
    weights: [0, 1],
    steps: 6,
  });
  // Its input gone before a worker reads it: GetObject 404 -> input_not_found (a 403 would be retried).
  const orphan = await createJob(s, { kind: 'reconstruct', image: { base64: base64(square) } });
  await admin.s3.send(
    new DeleteObjectCommand({ Bucket: bucket, Key: s3Keys.jobInput(tenant, orphan.id, 0) }),
  );
  // The queue down: the job is marked failed and its Idempotency-Key released (503 queue_unavailable).
  await t.stack.standIns.sqs.stop();
  // Failed at once, its end's webhook event is enqueued too (SendMessage tried while the queue is down).
  const unqueued = await post(
    s,
    { kind: 'sample', prompt: 'ring', steps: 4, webhook: { url: hook('ok') } },
    'never-queued',
  );
  expect(unqueued.error?.code).toBe('queue_unavailable');
  await t.stack.standIns.sqs.start();
  await ensureWebhooksQueue();
  const queuedCancel = await createJob(s, {
    kind: 'sample',
    prompt: 'star',
    steps: 4,
    webhook: { url: hook('ok') },
  });
  expect((await api(s, 'POST', `/v1/jobs/${queuedCancel.id}/cancel`)).status).toBe(200);
  const sweeping = { staleAfterMs: staleAfterMs(1) };
  // The queued jobs' messages lost (purged, as an in-memory queue's restart would): the sweep, once the
  // queue's counts have had time to show them, sends them again.
  await admin.sqs.send(new PurgeQueueCommand({ QueueUrl: admin.config.OBELM_JOBS_QUEUE_URL }));
  const settled = { ...recordedDeps('sweeper'), now: () => new Date(Date.now() + SETTLE_MS + 1000) };
  expect((await sweepJobs(settled, sweeping)).requeued).toContain(edited.id);

  const worker = spawn();
  // Webhooks: one delivered at once; one whose receiver fails every attempt until the DLQ, then is up again
  // for a redelivery.
  const hooked = await createJob(s, {
    kind: 'sample',
    prompt: 'red circle',
    steps: 4,
    webhook: { url: hook('ok') },
  });
  const refused = await createJob(s, {
    kind: 'sample',
    prompt: 'blue circle',
    steps: 4,
    webhook: { url: hook('flaky'), events: ['job.succeeded'] },
  });
  // A batch of one image, uploaded with its form: the stack's trigger starts its job and closes it (expected
  // images reached); the worker inverts it, writes its noise under batch-out/ and, as the last job ended,
  // completes the batch (summary.json, batch.completed); its job's own event goes out too.
  const uploaded = await createBatch({
    prompt: 'red circle',
    steps: 6,
    contentType: 'image/png',
    expectedImages: 1,
    webhook: { url: hook('ok'), events: ['batch.completed', 'job.succeeded'] },
  });
  recordUploadForm('createBatch', uploaded.upload);
  const batchForm = new FormData();
  for (const [k, v] of Object.entries(uploaded.upload.fields)) batchForm.append(k, v);
  batchForm.set('key', `${uploaded.prefix}red circle é.png`);
  batchForm.append('file', new Blob([redCircle], { type: 'image/png' }));
  expect((await fetch(uploaded.upload.url, { method: 'POST', body: batchForm })).status).toBeLessThan(300);
  const completed = await batchUntil(
    uploaded.id,
    (b) => b.status === 'completed' && b.webhook?.deliveries[0]?.status === 'delivered',
  );
  expect(completed.summary?.url).toBeDefined();
  const [batchJob] = await jobsOf(uploaded.id);
  expect((await delivered(batchJob!)).outputs?.noise).toBeDefined();
  expect((await api(s, 'POST', `/v1/jobs/${batchJob!.id}/webhook/redeliver`)).status).toBe(202);
  // Its noise, under batch-out/, as another job's input.
  await done(await createJob(s, { kind: 'sample', noise: { jobId: batchJob!.id }, prompt: 'red circle' }));
  await delivered(hooked);
  await delivered(refused, 'failed');
  receiverUp = true;
  expect((await api(s, 'POST', `/v1/jobs/${refused.id}/webhook/redeliver`)).status).toBe(202);
  await delivered(refused);
  await done(edited);
  // A replay of a finished job: createJob answers its view, with output links.
  expect((await post(s, edit, 'edit-once')).outputs?.image).toBeDefined();
  await done(fromBundle);
  await done(interpolated);
  const orphaned = await done(orphan, 'failed');
  expect(orphaned.error?.code).toBe('input_not_found');
  await done(
    await createJob(s, { kind: 'sample', noise: { jobId: (await done(inverted)).id }, prompt: 'star' }),
  );
  await worker.stop();

  // A slow worker: a running job canceled, another stopped mid-way (checkpoint) and resumed by a fresh worker.
  const slow = spawn({ OBELM_TEST_STEP_DELAY_MS: '40', OBELM_STOP_GRACE_SECONDS: '0' });
  const long = { kind: 'sample', prompt: 'white cross', seed: 11, steps: 60 };
  const canceled = await createJob(s, long);
  await waitForJob(s, canceled.id, ['running'], 30_000, (j) => (j.progress?.step ?? 0) > 0);
  expect((await api(s, 'POST', `/v1/jobs/${canceled.id}/cancel`)).status).toBe(200);
  await done(canceled, 'canceled');
  const parked = await createJob(s, long);
  await waitForJob(s, parked.id, ['running'], 30_000, (j) => (j.progress?.step ?? 0) >= 10);
  expect(await slow.stop()).toBe(0);
  await waitForJob(s, parked.id, ['queued']);
  const resumer = spawn();
  await done(parked);
  await resumer.stop();

  // Batches whose jobs no worker takes (their objects never uploaded): the recorded trigger starts them.
  // 1. Closed by the trigger at its expected image; its job canceled: cancelJob completes the batch.
  const canceledBatch = await createBatch({ expectedImages: 1, webhook: { url: hook('ok') } });
  await objectsCreated(canceledBatch, ['never uploaded.png']);
  const [batchQueued] = await jobsOf(canceledBatch.id);
  expect((await api(s, 'POST', `/v1/jobs/${batchQueued!.id}/cancel`)).status).toBe(200);
  expect((await batchUntil(canceledBatch.id, (b) => b.status === 'completed')).counts).toEqual({
    canceled: 1,
  });
  // 2. Two images, left open: their jobs expire below, then closing it completes it.
  const closedLater = await createBatch({ webhook: { url: hook('ok') } });
  await objectsCreated(closedLater, ['a b/ü 1.png', 'a+b%20c.png']);
  // 3. Closed by the trigger; its job expires below: the sweeper completes it.
  const sweptBatch = await createBatch({ expectedImages: 1 });
  await objectsCreated(sweptBatch, ['late.png']);
  // 4. Over a spent budget, the trigger's job fails at once and the trigger completes the batch itself.
  const overBudget = await createBatch({ expectedImages: 1, webhook: { url: hook('ok') } });
  await setTenantLimits(admin.store, tenant, { monthlyBudgetMicros: 0 });
  await objectsCreated(overBudget, ['over budget.png']);
  await setTenantLimits(admin.store, tenant, { monthlyBudgetMicros: 10 ** 12 });
  expect((await batchUntil(overBudget.id, (b) => b.status === 'completed')).counts).toEqual({ failed: 1 });

  // A queued job no worker takes, swept once its time to live has passed: expired (and its webhook told).
  const forgotten = await createJob(s, {
    kind: 'sample',
    prompt: 'dot',
    steps: 4,
    webhook: { url: hook('ok') },
  });
  const sweeper = recordedDeps('sweeper');
  const ttlMs = sweeper.config.OBELM_JOB_TTL_SECONDS * 1000;
  const late = await sweepJobs({ ...sweeper, now: () => new Date(Date.now() + ttlMs + 60_000) }, sweeping);
  expect(late.expired).toContain(forgotten.id);
  expect((await batchUntil(sweptBatch.id, (b) => b.status === 'completed')).counts).toEqual({ expired: 1 });
  const close = await api<BatchView>(s, 'POST', `/v1/batches/${closedLater.id}/close`);
  expect(close.body.status).toBe('completed');
  expect(close.body.counts).toEqual({ expired: 2 });

  const listed = await api<{ jobs: JobView[] }>(s, 'GET', '/v1/jobs?limit=100');
  expect(listed.body.jobs.some((job) => job.outputs?.image)).toBe(true);
  expect((await api(s, 'GET', '/v1/usage')).status).toBe(200);
  expect((await api(s, 'DELETE', `/v1/jobs/${interpolated.id}`)).status).toBe(200);
}, 240_000);

afterAll(async () => {
  await Promise.all(workers.map((worker) => worker.stop()));
  await dispatcher?.stop();
  await new Promise((resolve) => receiver?.close(resolve));
  await new Promise((resolve) => server?.close(resolve));
  for (const deps of clients) for (const client of [deps.s3, deps.sqs, deps.db]) client.destroy();
  await t?.stop();
});

describe('IAM coverage of the recorded AWS calls', () => {
  const all = grants(FAKE_ARNS);
  const grantsOf = (fn: Fn) => resolveGrants(all, fn === 'worker' ? WORKER_GRANTS : HANDLER_GRANTS[fn]);
  const functions = [...(Object.keys(HANDLER_GRANTS) as LambdaHandlerName[]), 'worker' as const];
  const names = () => ({
    bucket: t.stack.deps.config.OBELM_BUCKET,
    bucketArn: FAKE_ARNS.bucketArn,
    table: t.stack.deps.config.OBELM_TABLE,
    tableArn: FAKE_ARNS.tableArn,
    queues: {
      [t.stack.env['OBELM_JOBS_QUEUE_URL']!]: FAKE_ARNS.jobsQueueArn,
      [webhooksQueueUrl]: FAKE_ARNS.webhooksQueueArn,
      [t.stack.env['OBELM_WEBHOOKS_DLQ_URL']!]: FAKE_ARNS.webhooksDlqArn,
    },
  });
  const requests = () =>
    recorded().flatMap((call) =>
      requestsOf(call, names()).map((request) => ({ fn: call.fn as Fn, call, request })),
    );

  it('recorded every function that has grants', () => {
    const seen = new Set(recorded().map((call) => call.fn));
    const withGrants = functions.filter((fn) => fn === 'worker' || HANDLER_GRANTS[fn].length > 0);
    expect(withGrants.filter((fn) => !seen.has(fn))).toEqual([]);
    expect(recorded().some((call) => call.presigned)).toBe(true);
  });

  it("allows every call in its function's grants", async () => {
    const denied: string[] = [];
    for (const fn of functions) {
      const own = await grantsOf(fn);
      for (const { call, request } of requests().filter((r) => r.fn === fn)) {
        if (!allowing(own, request)) denied.push(`${fn}: ${show(request)} (${call.command})`);
      }
    }
    expect([...new Set(denied)]).toEqual([]);
  });

  it('grants nothing that no call uses, beyond what UNSEEN explains', async () => {
    const unused: string[] = [];
    for (const fn of functions) {
      const own = await grantsOf(fn);
      const mine = requests().filter((r) => r.fn === fn);
      for (const grant of own) {
        for (const action of grant.actions) {
          for (const resource of grant.resources) {
            const used = mine.some(
              ({ request }) =>
                request.action === action && allowing([only(grant, resource)], request) !== undefined,
            );
            if (!used) unused.push(`${fn} ${grant.name} ${action} ${resource}`);
          }
        }
      }
    }
    expect(unused.filter((entry) => !(entry in UNSEEN))).toEqual([]);
    // An explanation for something that is used (or no longer granted) is stale.
    expect(Object.keys(UNSEEN).filter((entry) => !unused.includes(entry))).toEqual([]);
  });
});

/** `grant` narrowed to one of its resources. */
const only = (grant: ResolvedGrant, resource: string): ResolvedGrant => ({ ...grant, resources: [resource] });

const show = ({ action, resource, context }: IamRequest) =>
  `${action} ${resource}${Object.keys(context).length ? ` ${JSON.stringify(context)}` : ''}`;
