import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import {
  dbKeys,
  type JobItem,
  monthEnd,
  s3Keys,
  type TenantLimitsOverride,
  type UsageEntry,
  usageMonth,
} from '@obelm/core';
import { type LocalStack, startLocalStack } from '@obelm/local';
import { setTenantLimits } from '@obelm/store';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { base64, demoPng } from '../e2e/helpers.ts';
import { addApiKey, call, PNG_BASE64 } from './helpers.ts';

/**
 * The tenant limits POST /v1/jobs enforces (api jobs/admission.ts, plan.ts): each refuses with its code and
 * `details`, and a refused request creates nothing: no job item, no message, no S3 object, no Idempotency-Key.
 */

let stack: LocalStack;
let dataDir: string;
/** The usage Queries the API sent (the budget check reads this month's usage entries). */
const usageQueries: string[] = [];

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'obelm-limits-'));
  // No worker and no sweep: a job stays queued until the test ends it.
  stack = await startLocalStack({ dataDir, port: 0, worker: false, sweepEverySeconds: 0 });
  // Observes the API's own client (the stack serves with these deps): which Queries read usage entries.
  stack.deps.db.middlewareStack.add(
    (next) => async (args) => {
      const input = JSON.stringify(args.input);
      if (input.includes(dbKeys.usageMonthPrefix(usageMonth(new Date())))) usageQueries.push(input);
      return next(args);
    },
    { step: 'initialize', name: 'recordUsageQueries' },
  );
});
afterAll(async () => {
  await stack?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

/** A tenant of its own with these limits, and a key of it. */
async function tenantWith(tenant: string, limits: TenantLimitsOverride): Promise<string> {
  const key = await addApiKey(stack, tenant);
  await setTenantLimits(stack.deps.store, tenant, limits);
  return key;
}

const post = (key: string, body: object, headers: Record<string, string> = {}) =>
  call(stack, 'POST', '/v1/jobs', { key, body, headers });

/** Everything a request could have left behind for a tenant. */
async function traces(tenant: string, key: string, idempotencyKey?: string) {
  const { Attributes: a = {} } = await stack.deps.sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: stack.deps.config.OBELM_JOBS_QUEUE_URL,
      AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
    }),
  );
  const objects = await stack.deps.s3.send(
    new ListObjectsV2Command({
      Bucket: stack.deps.config.OBELM_BUCKET,
      Prefix: `${s3Keys.jobPrefix(tenant, '')}`,
    }),
  );
  const claimed = idempotencyKey
    ? (
        await stack.deps.db.send(
          new GetCommand({
            TableName: stack.deps.config.OBELM_TABLE,
            Key: dbKeys.idempotency(tenant, idempotencyKey),
          }),
        )
      ).Item
    : undefined;
  const jobs = (await call(stack, 'GET', '/v1/jobs', { key })).body.jobs as { id: string }[];
  return {
    jobs: jobs.map((j) => j.id).sort(),
    messages: Number(a['ApproximateNumberOfMessages']) + Number(a['ApproximateNumberOfMessagesNotVisible']),
    objects: (objects.Contents ?? []).map((o) => o.Key).sort(),
    claimed,
  };
}

const item = async (id: string) =>
  (
    await stack.deps.db.send(
      new GetCommand({ TableName: stack.deps.config.OBELM_TABLE, Key: dbKeys.job(id) }),
    )
  ).Item as JobItem;

describe('jobs queued or running at once (maxActiveJobs)', () => {
  it('refuses the one over the limit with 429 concurrency_limit and Retry-After, creating nothing', async () => {
    const tenant = 'limits-active';
    const key = await tenantWith(tenant, { maxActiveJobs: 2, parallelJobs: 1 });
    const first = await post(key, { kind: 'sample', seed: 1 }, { 'idempotency-key': 'first' });
    const second = await post(key, { kind: 'invert', image: { base64: PNG_BASE64 } });
    expect([first.status, second.status]).toEqual([202, 202]);
    // One dispatch slot: the first is in the queue, the second waits in the table; both are active.
    expect((await item(first.body.id)).dispatch).toBe('sent');
    expect((await item(second.body.id)).dispatch).toBe('held');

    const before = await traces(tenant, key, 'third');
    const refused = await post(
      key,
      { kind: 'invert', image: { base64: PNG_BASE64 } },
      { 'idempotency-key': 'third' },
    );
    expect(refused.status).toBe(429);
    expect(refused.headers.get('retry-after')).toBe('5');
    expect(refused.body.error).toMatchObject({ code: 'concurrency_limit', details: { limit: 2, active: 2 } });
    expect(await traces(tenant, key, 'third')).toEqual(before);
    expect(before.claimed).toBeUndefined();

    // A replay of an earlier request still answers its job, whatever the limits say now.
    const replay = await post(key, { kind: 'sample', seed: 1 }, { 'idempotency-key': 'first' });
    expect(replay.status).toBe(200);
    expect(replay.body.id).toBe(first.body.id);

    // The sent job ends: its slot goes to the held one, and there is room for one more.
    expect((await call(stack, 'POST', `/v1/jobs/${first.body.id}/cancel`, { key })).status).toBe(200);
    expect((await item(second.body.id)).dispatch).toBe('sent');
    const retried = await post(
      key,
      { kind: 'invert', image: { base64: PNG_BASE64 } },
      { 'idempotency-key': 'third' },
    );
    expect(retried.status).toBe(202);
    expect((await item(retried.body.id)).dispatch).toBe('held');
  });
});

describe('monthly budgets', () => {
  const month = usageMonth(new Date());
  /** A usage entry as a job's end writes it (store outbox.ts). */
  const spent = (tenant: string, jobId: string, amountMicros: number, gpuMs: number) =>
    stack.deps.db.send(
      new PutCommand({
        TableName: stack.deps.config.OBELM_TABLE,
        Item: {
          ...dbKeys.usageEntry(tenant, month, jobId),
          jobId,
          tenant,
          model: 'demo',
          kind: 'sample',
          status: 'succeeded',
          steps: 4,
          gpuMs,
          amountMicros,
          currency: 'USD',
          month,
          endedAt: new Date().toISOString(),
        } satisfies UsageEntry,
      }),
    );

  it('refuses with 402 quota_exceeded once the spend reaches the budget, saying what and when it resets', async () => {
    const tenant = 'limits-spend';
    const key = await tenantWith(tenant, { monthlyBudgetMicros: 5000 });
    await spent(tenant, 'job_spent_1', 4999, 100);
    expect((await post(key, { kind: 'sample', seed: 1 })).status).toBe(202);

    await spent(tenant, 'job_spent_2', 1, 100);
    const before = await traces(tenant, key, 'over');
    const refused = await post(
      key,
      { kind: 'invert', image: { base64: PNG_BASE64 } },
      { 'idempotency-key': 'over' },
    );
    expect(refused.status).toBe(402);
    expect(refused.headers.get('retry-after')).toBeNull();
    expect(refused.body.error).toMatchObject({
      code: 'quota_exceeded',
      details: {
        what: 'spend',
        used: 5000,
        limit: 5000,
        currency: 'USD',
        resetsAt: monthEnd(month).toISOString(),
      },
    });
    expect(await traces(tenant, key, 'over')).toEqual(before);
  });

  it('refuses with 402 quota_exceeded once the GPU seconds reach the budget', async () => {
    const tenant = 'limits-gpu';
    const key = await tenantWith(tenant, { monthlyGpuSeconds: 2 });
    await spent(tenant, 'job_gpu_1', 10, 2500);
    const before = await traces(tenant, key);
    const refused = await post(key, { kind: 'sample', seed: 1 });
    expect(refused.status).toBe(402);
    expect(refused.body.error).toMatchObject({
      code: 'quota_exceeded',
      details: { what: 'gpuSeconds', used: 2.5, limit: 2, resetsAt: monthEnd(month).toISOString() },
    });
    expect(await traces(tenant, key)).toEqual(before);
  });

  it('reads usage only for a tenant that has a budget', async () => {
    const key = await tenantWith('limits-no-budget', {});
    usageQueries.length = 0;
    expect((await post(key, { kind: 'sample', seed: 1 })).status).toBe(202);
    expect(usageQueries).toEqual([]);

    const budgeted = await tenantWith('limits-budgeted', { monthlyBudgetMicros: 1_000_000 });
    expect((await post(budgeted, { kind: 'sample', seed: 1 })).status).toBe(202);
    expect(usageQueries).toHaveLength(1);
  });
});

describe("the plan's steps and pixels", () => {
  it('refuses more steps than the plan allows with 400 steps_out_of_range, limit plan', async () => {
    const tenant = 'limits-steps';
    const key = await tenantWith(tenant, { maxSteps: 10 });
    const before = await traces(tenant, key);
    const refused = await post(key, { kind: 'sample', steps: 12 });
    expect(refused.status).toBe(400);
    expect(refused.body.error).toMatchObject({
      code: 'steps_out_of_range',
      details: { field: 'steps', limit: 'plan', max: 10, steps: 12 },
    });
    expect(await traces(tenant, key)).toEqual(before);
    expect((await post(key, { kind: 'sample', steps: 10 })).status).toBe(202);
  });

  it('refuses an image over the plan’s pixels with 413 image_too_large, inline or uploaded', async () => {
    const tenant = 'limits-pixels';
    const key = await tenantWith(tenant, { maxPixels: 1000 });
    const png = await demoPng({ shape: 'circle', colour: 'red' }); // 32 x 32 = 1024 pixels
    const tooLarge = {
      code: 'image_too_large',
      details: { limit: 'plan', maxPixels: 1000, width: 32, height: 32 },
    };

    const before = await traces(tenant, key);
    const inline = await post(key, { kind: 'invert', image: { base64: base64(png) } });
    expect(inline.status).toBe(413);
    expect(inline.body.error).toMatchObject({
      ...tooLarge,
      details: { ...tooLarge.details, field: 'image' },
    });
    expect(await traces(tenant, key)).toEqual(before);

    const upload = await call(stack, 'POST', '/v1/uploads', { key, body: { contentType: 'image/png' } });
    const form = new FormData();
    for (const [name, value] of Object.entries(upload.body.fields as Record<string, string>))
      form.append(name, value);
    form.append('file', new Blob([png], { type: 'image/png' }), 'in.png');
    expect((await fetch(upload.body.url, { method: 'POST', body: form })).status).toBe(204);
    const uploaded = await post(key, { kind: 'invert', image: { uploadId: upload.body.uploadId } });
    expect(uploaded.status).toBe(413);
    expect(uploaded.body.error).toMatchObject(tooLarge);
    expect(await traces(tenant, key)).toEqual(before);

    // Within the plan (1 x 1): accepted.
    expect((await post(key, { kind: 'invert', image: { base64: PNG_BASE64 } })).status).toBe(202);
  });
});
