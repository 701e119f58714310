import { GetQueueAttributesCommand, ReceiveMessageCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import { loadConfig, QUEUES, WORKER_MAX_ATTEMPTS, WorkerConfigSchema } from '@obelm/core';
import { type JobRunner, pipelineRunner, type RunningWorker, startWorker } from '@obelm/worker';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { createJob, waitForJob } from '../e2e/helpers.ts';
import { type FaultStack, readItem, startFaultStack } from './helpers.ts';

let t: FaultStack;
let worker: RunningWorker;

/** The pipelines, except that one input crashes the run with an error nobody typed (a bug, as far as we know). */
const POISON_PROMPT = 'poison pill';
const crashesOnPoison: JobRunner = async (request) => {
  if (request.params.kind === 'sample' && request.params.prompt === POISON_PROMPT) {
    throw new TypeError('cannot read properties of undefined (the poison input)');
  }
  return pipelineRunner(request);
};

beforeAll(async () => {
  // No supervised workers and no periodic sweep: one in-process worker with the crashing runner serves the queue.
  t = await startFaultStack({ worker: false, sweepEverySeconds: 0 });
  Object.assign(process.env, t.stack.env); // the worker's SDK clients read endpoints from the environment
  worker = startWorker(loadConfig(WorkerConfigSchema, t.workerEnv), { runner: crashesOnPoison });
});
afterAll(async () => {
  await worker?.stop();
  await t?.stop();
});

const jobsQueueUrl = () => t.stack.env['OBELM_JOBS_QUEUE_URL']!;
const dlqUrl = () => `${jobsQueueUrl()}-dlq`;

test('a poison job fails after the attempt limit and its message goes to the DLQ, like an unreadable one; the worker serves on', async () => {
  const { stack } = t;
  const sqs = stack.deps.sqs;
  // A message no worker can parse: left on the queue until SQS moves it to the DLQ.
  await sqs.send(new SendMessageCommand({ QueueUrl: jobsQueueUrl(), MessageBody: '{"v":1,"jobId":"junk"' }));
  const poison = await createJob(stack, { kind: 'sample', prompt: POISON_PROMPT, seed: 1, steps: 6 });
  const good = await Promise.all(
    [2, 3, 4].map((seed) => createJob(stack, { kind: 'sample', prompt: 'white cross', seed, steps: 6 })),
  );

  const failed = await waitForJob(stack, poison.id);
  expect(failed.status).toBe('failed');
  expect(failed.error?.code).toBe('too_many_attempts');
  expect((await readItem(stack, poison.id)).attempts).toBe(WORKER_MAX_ATTEMPTS);
  for (const job of good) expect((await waitForJob(stack, job.id)).status).toBe('succeeded');

  // The same worker still serves: a job submitted after the poison one failed succeeds.
  const after = await waitForJob(stack, (await createJob(stack, { kind: 'sample', seed: 5, steps: 6 })).id);
  expect(after.status).toBe('succeeded');
  expect(await Promise.race([worker.done.then(() => 'stopped'), Promise.resolve('running')])).toBe('running');

  // Both messages are in the DLQ once received more than maxReceiveCount times: the unparseable one (3 s hidden
  // each time) and the poison job's, which the worker left visible once the job was failed.
  const deadline = Date.now() + (QUEUES.jobs.maxReceiveCount + 2) * 3_000 * 1.5;
  const dead: string[] = [];
  while (dead.length < 2 && Date.now() < deadline) {
    const out = await sqs.send(new ReceiveMessageCommand({ QueueUrl: dlqUrl(), WaitTimeSeconds: 1 }));
    dead.push(...(out.Messages ?? []).map((m) => m.Body ?? ''));
  }
  expect(dead.sort()).toEqual(
    ['{"v":1,"jobId":"junk"', JSON.stringify({ v: 1, jobId: poison.id, tenant: stack.tenant })].sort(),
  );
  const { Attributes } = await sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: jobsQueueUrl(),
      AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
    }),
  );
  expect(Attributes).toMatchObject({
    ApproximateNumberOfMessages: '0',
    ApproximateNumberOfMessagesNotVisible: '0',
  });
});
