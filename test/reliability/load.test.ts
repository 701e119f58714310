import { afterAll, beforeAll, expect, test } from 'vitest';
import { type FaultStack, startFaultStack } from './helpers.ts';
import { checkLoad, runLoad } from './load.ts';

let t: FaultStack;
beforeAll(async () => {
  // Two supervised workers, each step slowed a little so the kill lands mid-job.
  t = await startFaultStack({ worker: 2, workerEnv: { OBELM_TEST_STEP_DELAY_MS: '5' } });
});
afterAll(async () => {
  await t?.stop();
});

test('60 jobs from 6 clients on 2 workers, one SIGKILLed midway: each succeeds exactly once, same bytes', async () => {
  const { stack } = t;
  const result = await runLoad(stack, {
    jobs: 60,
    clients: 6,
    killAfter: 25,
    steps: 8,
    seeds: [41, 42, 43],
    timeoutMs: 90_000,
  });
  const check = await checkLoad(stack, result);
  expect(check.problems).toEqual([]);
  expect(check.items).toHaveLength(60);
  // The killed worker's jobs were claimed again: at most every job in flight at the kill (one per client; a worker
  // runs several at once), or one taken over as stale from a worker starved of CPU, which is safe too (above).
  expect(check.reclaimed).toBeLessThanOrEqual(6);
  expect(stack.workerRestarts()).toBeGreaterThanOrEqual(1);
  expect(stack.workerPids()).not.toContain(result.killedPid);
}, 120_000);
