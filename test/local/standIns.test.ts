import type { LocalStack } from '@obelm/local';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, base64, createJob, demoPng, waitForJob } from '../e2e/helpers.ts';
import { removeTempDirs, startTestStack } from './helpers.ts';

/**
 * The stand-ins stop and start again on the same endpoint (the outage tests' tool): while one is down the API
 * answers an error, and once it is back the API, the worker and the data are as before.
 */
describe('restartable stand-ins', () => {
  let stack: LocalStack;
  beforeAll(async () => {
    stack = await startTestStack({ worker: 1 });
  });
  afterAll(async () => {
    await stack?.stop();
    removeTempDirs();
  });

  const finished = async (id: string) => (await waitForJob(stack, id, ['succeeded', 'failed'])).status;

  it('DynamoDB: the API fails while it is down, and finds the jobs stored before once it is back', async () => {
    const before = await createJob(stack, { kind: 'sample', seed: 1 });
    const endpoint = stack.standIns.dynamo.endpoint;
    await stack.standIns.dynamo.stop();
    expect((await api(stack, 'GET', `/v1/jobs/${before.id}`)).status).toBeGreaterThanOrEqual(500);
    await stack.standIns.dynamo.start();
    expect(stack.standIns.dynamo.endpoint).toBe(endpoint);
    expect(await finished(before.id)).toBe('succeeded');
  });

  it('S3: storing an inline image fails while it is down, and succeeds once it is back', async () => {
    const request = {
      kind: 'invert',
      prompt: 'red circle',
      image: { base64: base64(await demoPng({ shape: 'circle', colour: 'red' })) },
    };
    await stack.standIns.s3.stop();
    expect((await api(stack, 'POST', '/v1/jobs', request)).status).toBeGreaterThanOrEqual(500);
    await stack.standIns.s3.start();
    expect(await finished((await createJob(stack, request)).id)).toBe('succeeded');
  });

  it('SQS: enqueuing fails while it is down; once it is back the queues are there again and the job runs', async () => {
    await stack.standIns.sqs.stop();
    const refused = await api<{ id?: string }>(stack, 'POST', '/v1/jobs', { kind: 'sample', seed: 2 });
    expect(refused.status).toBeGreaterThanOrEqual(500);
    await stack.standIns.sqs.start(); // same queue URLs; the sweep re-sends queued jobs' messages
    expect(await finished((await createJob(stack, { kind: 'sample', seed: 3 })).id)).toBe('succeeded');
  });
});
