import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { dbKeys, loadConfig, WorkerConfigSchema } from '@obelm/core';
import { type RunningWorker, startWorker } from '@obelm/worker';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { createJob, waitForJob } from '../e2e/helpers.ts';
import { expectSucceededLike, type FaultStack, outputsOf, startFaultStack } from './helpers.ts';

let t: FaultStack;
let worker: RunningWorker;

beforeAll(async () => {
  t = await startFaultStack({ worker: false, sweepEverySeconds: 0 });
  Object.assign(process.env, t.stack.env);
  worker = startWorker(loadConfig(WorkerConfigSchema, t.workerEnv));
});
afterAll(async () => {
  await worker?.stop();
  await t?.stop();
});

test('a checkpoint that cannot be used (its objects are gone) is dropped: the job starts over, same bytes', async () => {
  const { stack } = t;
  const request = { kind: 'sample', prompt: 'blue ring', seed: 11, steps: 8 };
  const reference = await waitForJob(stack, (await createJob(stack, request)).id);

  // A queued job that names a checkpoint whose object was never written (or was removed by the lifecycle rule):
  // the worker must not fail it, or let it crash until too_many_attempts.
  await worker.stop();
  const job = await createJob(stack, request);
  const checkpoint = {
    key: `jobs/${stack.tenant}/${job.id}/checkpoint-step-4.safetensors`,
    completedKeys: [],
  };
  await stack.deps.db.send(
    new UpdateCommand({
      TableName: stack.deps.config.OBELM_TABLE,
      Key: dbKeys.job(job.id),
      UpdateExpression: 'SET #c = :c',
      ExpressionAttributeNames: { '#c': 'checkpoint' },
      ExpressionAttributeValues: {
        ':c': { ...checkpoint, stage: 0, step: 4, savedAt: new Date().toISOString() },
      },
    }),
  );
  worker = startWorker(loadConfig(WorkerConfigSchema, t.workerEnv));

  const done = await waitForJob(stack, job.id);
  const { item } = await expectSucceededLike(stack, done, reference);
  expect(item.attempts).toBe(1);
  expect((await outputsOf(done)).report.resumedFrom).toBeUndefined();
});
