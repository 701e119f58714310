import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import {
  createLogger,
  endBilling,
  type JobDispatch,
  type JobItem,
  jobMessage,
  jobTransitions as t,
} from '@obelm/core';
import { queuedJobItem } from '@obelm/core/testing';
import { type LocalStack, startLocalStack } from '@obelm/local';
import { JobTable } from '@obelm/store';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { type ClaimDeps, claimFromMessage } from '../src/queue/claim.ts';
import { JobQueue } from '../src/queue/queue.ts';

/**
 * The claim against the real stand-ins (dynalite, the SQS stand-in), its DynamoDB calls counted: one write for a
 * runnable job, and every other case still settled as before from one read.
 */

let stack: LocalStack;
let dir: string;
let queue: JobQueue;
let calls: string[] = [];
let jobs: JobTable;
let n = 0;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'obelm-claim-'));
  stack = await startLocalStack({ dataDir: dir, port: 0, worker: false, sweepEverySeconds: 0 });
  const db = stack.deps.db;
  // The real client, each command's name noted on its way.
  const counted = {
    send: (command: { constructor: { name: string } }) => {
      calls.push(command.constructor.name);
      return db.send(command as never);
    },
  } as unknown as DynamoDBDocumentClient;
  jobs = new JobTable(counted, stack.deps.config.OBELM_TABLE);
  queue = new JobQueue(stack.deps.sqs, stack.deps.config.OBELM_JOBS_QUEUE_URL);
});
afterAll(async () => {
  await stack?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const deps = (): ClaimDeps => ({
  store: stack.deps.store,
  jobs,
  queue,
  workerId: 'w-claim',
  heartbeatSeconds: 30,
  maxAttempts: 3,
  endedKeepSeconds: 3600,
  log: createLogger('claim-test'),
});

async function putJob(overrides: Partial<JobItem> = {}, dispatch: JobDispatch = 'sent'): Promise<JobItem> {
  const job = queuedJobItem({ id: `job_claim_${++n}`, tenant: stack.tenant, ...overrides });
  await stack.deps.store.jobs.put(t.create({ ...job, dispatch }));
  return job;
}

/** Sends the job's message, receives it, and claims from it; the DynamoDB calls the claim made. */
async function claim(job: Pick<JobItem, 'id' | 'tenant'>) {
  await stack.deps.sqs.send(
    new SendMessageCommand({
      QueueUrl: stack.deps.config.OBELM_JOBS_QUEUE_URL,
      MessageBody: JSON.stringify(jobMessage(job.id, job.tenant)),
    }),
  );
  const message = await queue.receive(1, 30);
  if (!message) throw new Error('no message received');
  calls = [];
  const result = await claimFromMessage(deps(), message);
  // Anything left on the queue (a poison job's message, made visible again) is drained for the next test.
  for (let m = await queue.receive(0, 30); m; m = await queue.receive(0, 30)) await queue.delete(m);
  return { result, calls: [...calls], item: await stack.deps.store.jobs.get(job.id) };
}

test('a runnable job is claimed with one conditional write and no read', async () => {
  const job = await putJob();
  const { result, calls, item } = await claim(job);
  expect(result.claimed?.status).toBe('running');
  expect(calls).toEqual(['UpdateCommand']);
  expect(item).toMatchObject({ status: 'running', workerId: 'w-claim', attempts: 1 });
  expect(item?.claimedAt).toBe(item?.startedAt);
});

test('a held job (its dispatch raced the message) is read, then claimed into a slot', async () => {
  const job = await putJob({}, 'held');
  const { result, calls, item } = await claim(job);
  expect(result.claimed?.status).toBe('running');
  expect(calls).toEqual(['UpdateCommand', 'GetCommand', 'UpdateCommand']);
  expect(item?.dispatch).toBe('sent');
  expect((item as { gsi2sk?: string } | undefined)?.gsi2sk).toMatch(/^S#/);
});

test.each([
  ['expired', { ttl: Math.floor(Date.now() / 1000) - 10 }, 'expired'],
  ['canceled', { cancelRequested: true }, 'canceled'],
  ['too_many_attempts', { attempts: 3 }, 'failed'],
] as const)('a queued job that must not run ends %s', async (outcome, overrides, status) => {
  const job = await putJob(overrides as Partial<JobItem>);
  const { result, calls, item } = await claim(job);
  expect(result).toEqual({ outcome });
  expect(item?.status).toBe(status);
  // The failed one-write claim, the read, the end; then the relay (usage entry, ...).
  expect(calls.slice(0, 3)).toEqual(['UpdateCommand', 'GetCommand', 'UpdateCommand']);
});

test('a job of another tenant than its message says is left for the dead-letter queue, not claimed', async () => {
  const job = await putJob();
  const { result, item } = await claim({ id: job.id, tenant: 'someone-else' });
  expect(result).toEqual({ outcome: 'bad_message' });
  expect(item?.status).toBe('queued');
});

test('a terminal, a missing and a live running job are settled without a claim', async () => {
  const done = await putJob();
  await claim(done);
  await stack.deps.store.jobs.apply(
    t.cancel(done.id, { status: 'running', workerId: 'w-claim' }, new Date(), {
      ttl: 1,
      billing: endBilling(done, 'canceled', new Date()),
    }),
  );
  expect((await claim(done)).result).toEqual({ outcome: 'already_done' });
  expect((await claim({ id: 'job_claim_missing', tenant: stack.tenant })).result).toEqual({
    outcome: 'missing',
  });
  const live = await putJob();
  await claim(live);
  const again = await claim(live);
  expect(again.result).toEqual({ outcome: 'held_elsewhere' });
  expect(again.item?.attempts).toBe(1);
});

test('a running job with a stale heartbeat is re-queued and claimed again', async () => {
  const job = await putJob();
  await stack.deps.store.jobs.apply(t.claim(job, 'dead-worker', new Date(Date.now() - 120_000)));
  const { result, item } = await claim(job);
  expect(result.claimed?.workerId).toBe('w-claim');
  expect(item?.attempts).toBe(2);
});
