import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { applyTransition } from '@obelm/api';
import { dbKeys, type JobItem, jobTransitions, newId } from '@obelm/core';
import { afterAll, describe, expect, it } from 'vitest';
import { createJob, waitForJob } from '../e2e/helpers.ts';
import { removeTempDirs, startTestStack } from './helpers.ts';

afterAll(removeTempDirs);

describe('the periodic sweep', () => {
  it('takes back a dead worker’s running job and a worker finishes it, without a restart of the stack', async () => {
    // Test workers heartbeat every second, so the stack's stale rule (two missed beats) is 2 s.
    const stack = await startTestStack({ worker: 1, sweepEverySeconds: 1 });
    try {
      const table = stack.deps.config.OBELM_TABLE;
      // A real job first: its item, as the API resolved it, is the template of the dead worker's job.
      const done = await waitForJob(stack, (await createJob(stack, { kind: 'sample', seed: 7 })).id, [
        'succeeded',
      ]);
      const { Item } = await stack.deps.db.send(
        new GetCommand({ TableName: table, Key: dbKeys.job(done.id) }),
      );
      const template = Item as JobItem;

      // A job a worker claimed a minute ago and then died with: running, old heartbeat, no message left.
      const now = new Date();
      const job: JobItem = {
        id: newId('job'),
        tenant: stack.tenant,
        status: 'queued',
        params: template.params,
        inputs: template.inputs,
        attempts: 0,
        createdAt: now.toISOString(),
        updatedAt: now.toISOString(),
        ttl: template.ttl,
      };
      await stack.deps.db.send(new PutCommand({ TableName: table, ...jobTransitions.create(job) }));
      const claimed = await applyTransition(
        stack.deps,
        jobTransitions.claim(job.id, 'local-dead-worker', new Date(now.getTime() - 60_000)),
      );
      expect(claimed?.status).toBe('running');

      const finished = await waitForJob(stack, job.id, ['succeeded', 'failed'], 30_000);
      expect(finished.status).toBe('succeeded');
    } finally {
      await stack.stop();
    }
  });
});
