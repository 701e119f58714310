/**
 * After a job succeeds, the worker deletes the checkpoint objects in its folder, those no trace knows included
 * (an earlier run's, a failed save's), by listing the folder. Where none can exist it neither lists nor deletes:
 * this run tried no save and is the job's first (its claim set startedAt: no earlier run tried one either).
 * Against the local stack's S3; a checkpoint object is planted to show what each case deletes.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger, type JobItem, s3Keys } from '@obelm/core';
import { queuedJobItem } from '@obelm/core/testing';
import { type LocalStack, startLocalStack } from '@obelm/local';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { BlobStore } from '../src/aws/blobs.ts';
import { deleteJobCheckpoints } from '../src/job/checkpoint.ts';
import { RunTrace } from '../src/job/trace.ts';

let stack: LocalStack;
let dataDir: string;

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'obelm-checkpoint-cleanup-'));
  stack = await startLocalStack({ dataDir, port: 0, worker: false, sweepEverySeconds: 0 });
});
afterAll(async () => {
  await stack?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

/** The stack's bucket, counting the folder listings the cleanup makes. */
class CountingBlobs extends BlobStore {
  listings = 0;
  override list(prefix: string): Promise<string[]> {
    this.listings++;
    return super.list(prefix);
  }
}

const CLAIMED = '2026-12-02T10:00:00.000Z';
const EARLIER = '2026-12-02T09:00:00.000Z';

/** A succeeded-to-be job with one checkpoint object in its folder; the cleanup's listings and what is left. */
async function cleanup(job: Partial<JobItem>, tried: boolean) {
  const id = `job_cleanup${Math.random().toString(36).slice(2, 10)}`;
  const item = queuedJobItem({ id, tenant: stack.tenant, status: 'running', attempts: 1, ...job });
  const blobs = new CountingBlobs(stack.deps.s3, stack.env['OBELM_BUCKET']!);
  const folder = s3Keys.jobCheckpoints(item.tenant, item.id);
  await blobs.put(`${folder}-step-2.safetensors`, 'state', 'application/octet-stream');
  const trace = new RunTrace();
  if (tried) trace.checkpointTried();
  await deleteJobCheckpoints(blobs, item, trace, createLogger('test'));
  const listings = blobs.listings;
  return { listings, left: (await blobs.list(folder)).length };
}

test("a job's first run that tried no checkpoint neither lists nor deletes: there can be none", async () => {
  expect(await cleanup({ startedAt: CLAIMED, claimedAt: CLAIMED }, false)).toEqual({ listings: 0, left: 1 });
});

test('a later run, a run that tried a checkpoint, or a job resumed from one deletes every checkpoint object', async () => {
  const listed = { listings: 1, left: 0 };
  expect(await cleanup({ startedAt: EARLIER, claimedAt: CLAIMED }, false)).toEqual(listed);
  expect(await cleanup({ startedAt: CLAIMED, claimedAt: CLAIMED }, true)).toEqual(listed);
  const checkpoint = { key: 'k', completedKeys: [], stage: 0, step: 2, savedAt: EARLIER, gpuMs: 1 };
  expect(await cleanup({ startedAt: CLAIMED, claimedAt: CLAIMED, checkpoint }, false)).toEqual(listed);
});
