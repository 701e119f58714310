import type { JobView } from '@obelm/core';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { api, createJob, waitForJob } from '../e2e/helpers.ts';
import { expectSucceededLike, type FaultStack, readItem, startFaultStack, waitForItem } from './helpers.ts';

let t: FaultStack;
/** Uninterrupted runs of each request, to compare the bytes of the interrupted ones with. */
const references = new Map<number, JobView>();

const OUTAGE_MS = 3_000;
const request = (seed: number) => ({ kind: 'sample', prompt: 'white cross', seed, steps: 12 });
const SEEDS = [31, 32, 33];

beforeAll(async () => {
  t = await startFaultStack({ worker: 1, workerEnv: { OBELM_TEST_STEP_DELAY_MS: '20' } });
  for (const seed of SEEDS) {
    references.set(seed, await waitForJob(t.stack, (await createJob(t.stack, request(seed))).id));
  }
});
afterAll(async () => {
  await t?.stop();
});

test.each(['s3', 'dynamo', 'sqs'] as const)(
  '%s unavailable for a few seconds: every job accepted before or during the outage succeeds once, same bytes',
  async (service) => {
    const { stack } = t;
    const jobs = await Promise.all(
      SEEDS.map(async (seed) => ({ seed, job: await createJob(stack, request(seed)) })),
    );
    await waitForItem(
      stack,
      jobs[0]!.job.id,
      (item) => item.status === 'running' || item.status === 'succeeded',
    );

    await stack.standIns[service].stop();
    const outageEnds = Date.now() + OUTAGE_MS;
    // A job submitted during the outage is either accepted (and must then succeed) or refused with a 503.
    const during = await api<JobView & { error?: { code?: string } }>(
      stack,
      'POST',
      '/v1/jobs',
      request(SEEDS[0]!),
    );
    expect([202, 503], JSON.stringify(during.body)).toContain(during.status);
    if (during.status === 202) jobs.push({ seed: SEEDS[0]!, job: during.body });
    else expect(during.body.error?.code).toBeTruthy();
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, outageEnds - Date.now())));
    await stack.standIns[service].start();

    for (const { seed, job } of jobs) {
      const done = await waitForJob(stack, job.id, undefined, 45_000);
      await expectSucceededLike(stack, done, references.get(seed)!, {
        strays: service === 'dynamo' ? 'allowed' : undefined,
      });
      // Claimed at most twice: once, plus once more if its run was cut off by the outage.
      expect((await readItem(stack, job.id)).attempts).toBeLessThanOrEqual(2);
    }
  },
);
