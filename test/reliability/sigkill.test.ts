import { afterAll, beforeAll, expect, test } from 'vitest';
import { createJob, waitForJob } from '../e2e/helpers.ts';
import { expectSucceededLike, type FaultStack, readItem, startFaultStack, waitForItem } from './helpers.ts';

let t: FaultStack;
beforeAll(async () => {
  // One supervised worker, slowed to 30 ms a step so it can be killed mid-job.
  t = await startFaultStack({ worker: 1, workerEnv: { OBELM_TEST_STEP_DELAY_MS: '30' } });
});
afterAll(async () => {
  await t?.stop();
});

const request = { kind: 'sample', prompt: 'white cross', seed: 23, steps: 40 };

test('SIGKILL mid-job: the stack starts a new worker, which resumes from the last checkpoint, same bytes', async () => {
  const { stack } = t;
  const reference = await waitForJob(stack, (await createJob(stack, request)).id);
  expect(reference.status, JSON.stringify(reference.error)).toBe('succeeded');

  const job = await createJob(stack, request);
  // Periodic checkpoints are recorded on the item while the job runs.
  const checkpointed = await waitForItem(
    stack,
    job.id,
    (item) => item.status === 'running' && (item.checkpoint?.step ?? 0) >= 10,
  );
  const [pid] = stack.workerPids();
  expect(pid).toBeDefined();
  process.kill(pid!, 'SIGKILL');
  const killedAt = (await readItem(stack, job.id)).checkpoint!.step;
  expect(killedAt).toBeGreaterThanOrEqual(checkpointed.checkpoint!.step);

  const done = await waitForJob(stack, job.id, undefined, 30_000);
  expect(stack.workerRestarts()).toBeGreaterThanOrEqual(1);
  expect(stack.workerPids()).not.toContain(pid);
  const { item, report } = await expectSucceededLike(stack, done, reference);
  // Resumed from a checkpoint at or after the one seen before the kill, not from step 0; claimed twice.
  expect(report.resumedFrom?.step).toBeGreaterThanOrEqual(killedAt);
  expect(report.resumedFrom!.step).toBeLessThan(request.steps);
  expect(item.attempts).toBe(2);
  expect(item.progress).toEqual({ step: request.steps, of: request.steps });
});
