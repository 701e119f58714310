import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetQueueAttributesCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import { loadConfig, WorkerConfigSchema } from '@obelm/core';
import { type LocalStack, startLocalStack } from '@obelm/local';
import { startWorker } from '@obelm/worker';
import { afterAll, beforeAll, expect, test } from 'vitest';

let stack: LocalStack;
let dataDir: string;

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'obelm-stop-'));
  stack = await startLocalStack({ dataDir, port: 0, worker: false });
  Object.assign(process.env, stack.env);
});
afterAll(async () => {
  await stack?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

test('stop() while idle lets its long poll end and puts back what it brings: no message is hidden', async () => {
  const queueUrl = stack.env['OBELM_JOBS_QUEUE_URL']!;
  // Heartbeats of 30 s: a message taken by an abandoned poll would stay hidden for 90 s.
  const config = loadConfig(WorkerConfigSchema, { ...stack.env, OBELM_POLL_SECONDS: '2' });
  const worker = startWorker(config);
  await new Promise((resolve) => setTimeout(resolve, 300)); // the worker is in its long poll now

  const stopped = worker.stop();
  await stack.deps.sqs.send(
    new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: 'arrives during stop' }),
  );
  await stopped;

  const { Attributes } = await stack.deps.sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: queueUrl,
      AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
    }),
  );
  expect(Attributes).toMatchObject({
    ApproximateNumberOfMessages: '1',
    ApproximateNumberOfMessagesNotVisible: '0',
  });
});
