import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetQueueAttributesCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { dbKeys, type JobItem, jobMessage, loadConfig, newId, WorkerConfigSchema } from '@obelm/core';
import { type LocalStack, startLocalStack } from '@obelm/local';
import { type RunningWorker, startWorker } from '@obelm/worker';
import { afterAll, beforeAll, expect, test } from 'vitest';

let stack: LocalStack;
let dataDir: string;
let worker: RunningWorker;

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'obelm-worker-'));
  stack = await startLocalStack({ dataDir, port: 0, worker: false });
  const config = loadConfig(WorkerConfigSchema, {
    ...stack.env,
    OBELM_HEARTBEAT_SECONDS: '1',
    OBELM_POLL_SECONDS: '1',
    OBELM_MODEL_CACHE: join(dataDir, 'models'),
  });
  // The SDK clients read endpoints and credentials from the environment, as in Lambda and ECS.
  Object.assign(process.env, stack.env);
  worker = startWorker(config);
});
afterAll(async () => {
  await worker?.stop();
  await stack?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

const { db, sqs, config } = {
  db: () => stack.deps.db,
  sqs: () => stack.deps.sqs,
  config: () => stack.deps.config,
};

async function putJob(overrides: Partial<JobItem>): Promise<JobItem> {
  const now = new Date();
  const job: JobItem = {
    id: newId('job'),
    tenant: stack.tenant,
    status: 'queued',
    params: {
      kind: 'sample',
      model: 'demo',
      steps: 6,
      guidance: 1,
      negativePrompt: '',
      sampler: { name: 'obelm' },
      outputFormat: 'png',
      prompt: 'green triangle',
      seed: 3,
    },
    inputs: [],
    attempts: 0,
    createdAt: now.toISOString(),
    updatedAt: now.toISOString(),
    ttl: Math.floor(now.getTime() / 1000) + 3600,
    ...overrides,
  };
  await db().send(
    new PutCommand({ TableName: config().OBELM_TABLE, Item: { ...dbKeys.job(job.id), ...job } }),
  );
  return job;
}

const send = (body: string) =>
  sqs().send(new SendMessageCommand({ QueueUrl: config().OBELM_JOBS_QUEUE_URL, MessageBody: body }));

async function readJob(id: string): Promise<JobItem> {
  const out = await db().send(new GetCommand({ TableName: config().OBELM_TABLE, Key: dbKeys.job(id) }));
  return out.Item as JobItem;
}

async function waitFor<T>(
  read: () => Promise<T>,
  done: (value: T) => boolean,
  timeoutMs = 15_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`timed out; last value ${JSON.stringify(value)}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

test('an in-process worker runs a queued job to succeeded with outputs and metrics', async () => {
  const job = await putJob({});
  await send(JSON.stringify(jobMessage(job.id, job.tenant)));
  const done = await waitFor(
    () => readJob(job.id),
    (j) => j.status === 'succeeded',
  );
  expect(done.attempts).toBe(1);
  expect(done.outputs?.image).toMatch(/image\.png$/);
  expect(done.outputs?.noise).toMatch(/noise\.safetensors$/);
  expect(done.metrics?.gpuMs).toBeGreaterThan(0);
});

test('a running job with a stale heartbeat (its worker died) is re-claimed, the attempt counted', async () => {
  const stale = new Date(Date.now() - 60_000).toISOString();
  const job = await putJob({
    status: 'running',
    attempts: 1,
    workerId: 'dead-worker',
    heartbeatAt: stale,
    startedAt: stale,
  });
  await send(JSON.stringify(jobMessage(job.id, job.tenant)));
  const done = await waitFor(
    () => readJob(job.id),
    (j) => j.status === 'succeeded',
  );
  expect(done.attempts).toBe(2);
  expect(done.workerId).toBe(worker.workerId);
});

test('a job out of attempts is failed, not run again', async () => {
  const job = await putJob({ attempts: 3 });
  await send(JSON.stringify(jobMessage(job.id, job.tenant)));
  const done = await waitFor(
    () => readJob(job.id),
    (j) => j.status === 'failed',
  );
  expect(done.error?.code).toBe('too_many_attempts');
  // Its message bounces until SQS moves it to the dead-letter queue; the next test counts the queue from empty.
  await waitFor(attributes, (a) => inQueue(a) === 0);
});

const attributes = async () =>
  (
    await sqs().send(
      new GetQueueAttributesCommand({
        QueueUrl: config().OBELM_JOBS_QUEUE_URL,
        AttributeNames: ['ApproximateNumberOfMessagesNotVisible', 'ApproximateNumberOfMessages'],
      }),
    )
  ).Attributes ?? {};
const inQueue = (a: Record<string, string>) =>
  Number(a['ApproximateNumberOfMessagesNotVisible']) + Number(a['ApproximateNumberOfMessages']);

test('a malformed message is not deleted: it stays on the queue for the dead-letter redrive', async () => {
  await send('{"v":2,"jobId":"nope"}');
  // Received, left alone: it shows as in flight (hidden for three heartbeats), never silently dropped.
  const seen = await waitFor(attributes, (a) => Number(a['ApproximateNumberOfMessagesNotVisible']) === 1);
  expect(inQueue(seen)).toBe(1);
});
