import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { dbKeys, type JobItem, type JobView, s3Keys } from '@obelm/core';
import { type LocalStack, type LocalStackOptions, startLocalStack } from '@obelm/local';
import { ensureDemoBundle } from '@obelm/models';
import { expect } from 'vitest';
import { download, TEST_WORKER_ENV, WORKER_SCRIPT } from '../e2e/helpers.ts';

/**
 * Settings of the fault tests' workers: heartbeats of 1 s (a dead worker's job is stale after 2 s), short polls,
 * and a checkpoint every 2 ms of model time (a few of the demo model's steps: it takes about 0.5-1.5 ms each).
 */
export const FAULT_WORKER_ENV = { ...TEST_WORKER_ENV, OBELM_CHECKPOINT_SECONDS: '0.002' };

export interface FaultStack {
  stack: LocalStack;
  /** What a worker needs (the stack's env, FAULT_WORKER_ENV, the model cache, `options.workerEnv`). */
  workerEnv: Record<string, string>;
  stop(): Promise<void>;
}

/**
 * A local stack in a fresh folder with supervised worker processes (`options.worker`) of the worker bundle
 * (WORKER_SCRIPT), the demo bundle built once into the workers' model cache, and a sweep every second, so that
 * a job whose worker died is found fast.
 */
export async function startFaultStack(
  options: LocalStackOptions & { workerEnv?: Record<string, string> },
): Promise<FaultStack> {
  const dataDir = mkdtempSync(join(tmpdir(), 'obelm-fault-'));
  const modelCache = join(dataDir, 'models');
  await ensureDemoBundle(modelCache);
  const workerEnv = { ...FAULT_WORKER_ENV, OBELM_MODEL_CACHE: modelCache, ...options.workerEnv };
  const stack = await startLocalStack({
    dataDir,
    port: 0,
    sweepEverySeconds: 1,
    workerScript: WORKER_SCRIPT,
    ...options,
    workerEnv,
  });
  return {
    stack,
    workerEnv: { ...stack.env, ...workerEnv },
    stop: async () => {
      await stack.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** The job item as stored (attempts, checkpoint, end event: what the API's view does not show). */
export async function readItem(stack: LocalStack, jobId: string): Promise<JobItem> {
  const out = await stack.deps.db.send(
    new GetCommand({
      TableName: stack.deps.config.OBELM_TABLE,
      Key: dbKeys.job(jobId),
      ConsistentRead: true,
    }),
  );
  return out.Item as JobItem;
}

/** Polls the item until `done` holds. */
export async function waitForItem(
  stack: LocalStack,
  jobId: string,
  done: (item: JobItem) => boolean,
  timeoutMs = 30_000,
): Promise<JobItem> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const item = await readItem(stack, jobId).catch(() => undefined);
    if (item && done(item)) return item;
    if (Date.now() > deadline)
      throw new Error(`job ${jobId}: condition not met; last ${JSON.stringify(item)}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Names of the objects under a job's folder (e.g. image.png, noise.safetensors, report.json). */
export async function jobObjects(stack: LocalStack, jobId: string): Promise<string[]> {
  const listed = await stack.deps.s3.send(
    new ListObjectsV2Command({
      Bucket: stack.deps.config.OBELM_BUCKET,
      Prefix: s3Keys.jobPrefix(stack.tenant, jobId),
    }),
  );
  return (listed.Contents ?? []).map((o) => o.Key!.split('/').at(-1)!).sort();
}

/** A finished job's image, noise and report.json, downloaded through its presigned URLs. */
export async function outputsOf(job: JobView) {
  const { image, noise, report } = job.outputs ?? {};
  if (!image || !noise || !report) throw new Error(`job ${job.id} has no outputs: ${JSON.stringify(job)}`);
  const [imageBytes, noiseBytes, reportBytes] = await Promise.all([
    download(image.url),
    download(noise.url),
    download(report.url),
  ]);
  return {
    image: Buffer.from(imageBytes),
    noise: Buffer.from(noiseBytes),
    report: JSON.parse(new TextDecoder().decode(reportBytes)) as {
      attempt: number;
      workerId: string;
      resumedFrom?: { stage: number; step: number };
    },
  };
}

/** How long a finished job's checkpoint objects may take to go (the worker's cleanup after its end). */
const CLEANUP_WAIT = { timeout: 10_000, interval: 100 };

const checkpointsOf = async (stack: LocalStack, jobId: string) =>
  (await jobObjects(stack, jobId)).filter((name) => name.startsWith('checkpoint'));

/**
 * What "ended once, nothing left over" means for a job: succeeded with one end event, outputs byte-identical to
 * the reference run's, and nothing in its folder but the inputs and outputs (no checkpoint left behind). A run
 * that could not record its checkpoints (DynamoDB down) and never finished may leave their objects for the
 * bucket's lifecycle rule: `strays: 'allowed'`.
 */
export async function expectSucceededLike(
  stack: LocalStack,
  job: JobView,
  reference: JobView,
  { strays }: { strays?: 'allowed' } = {},
) {
  expect(job.status, JSON.stringify(job.error)).toBe('succeeded');
  const item = await readItem(stack, job.id);
  expect(item.endEvent?.id).toBe(`evt_${job.id}_succeeded`);
  expect(item.checkpoint).toBeUndefined();
  const [got, want] = await Promise.all([outputsOf(job), outputsOf(reference)]);
  expect(got.image.equals(want.image)).toBe(true);
  expect(got.noise.equals(want.noise)).toBe(true);
  // The worker deletes them after the job's end is recorded: wait for it (the end is what the caller saw).
  if (strays !== 'allowed') await expect.poll(() => checkpointsOf(stack, job.id), CLEANUP_WAIT).toEqual([]);
  return { item, report: got.report };
}
