/**
 * The worker's esbuild bundle, built exactly as the image builds it (scripts/bundleWorker.ts) and started with
 * node against the local stack: a job through the API must succeed on it. A dependency that cannot be bundled,
 * a path resolved from the source tree or a missing external fails here instead of in a deployed container.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type LocalStack, startLocalStack } from '@obelm/local';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { createJob, waitForJob } from '../e2e/helpers.ts';
import { type BundledWorker, buildWorkerBundle, startBundledWorker } from './bundledWorker.ts';

let dataDir: string;
let stack: LocalStack;
let worker: BundledWorker | undefined;

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'obelm-bundle-'));
  stack = await startLocalStack({ dataDir, port: 0, worker: false, sweepEverySeconds: 0 });
});

afterAll(async () => {
  await worker?.stop();
  await stack?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

test('the bundled worker starts, loads the demo model and runs a job', async () => {
  const file = await buildWorkerBundle(dataDir);
  worker = await startBundledWorker(file, {
    ...stack.env,
    OBELM_MODEL_CACHE: join(dataDir, 'models'),
    OBELM_POLL_SECONDS: '1',
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
  });
  const { id } = await createJob(stack, { kind: 'sample', prompt: 'red circle', steps: 4, seed: 1 });
  const job = await waitForJob(stack, id);
  expect(job.status, worker.output()).toBe('succeeded');
  await expect(worker.ready).resolves.toBeGreaterThan(0);
}, 30_000);
