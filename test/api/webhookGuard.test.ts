import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApiError, CreateJobRequestSchema } from '@obelm/core';
import { type LocalStack, startLocalStack } from '@obelm/local';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createJob } from '../../packages/api/src/jobs/create.ts';
import { call } from './helpers.ts';

/**
 * The SSRF guard at job creation, through the local stack (OBELM_WEBHOOK_ALLOW_LOOPBACK on, as `npm start`):
 * a receiver on http://127.0.0.1 is accepted and kept on the job; private, link-local and IPv6 loopback
 * addresses, and names that resolve to loopback, are refused with 400 `invalid_webhook` before anything is
 * written. With the setting off (the cloud's rules), 127.0.0.1 is refused too.
 */

let stack: LocalStack;
let dataDir: string;

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'obelm-webhook-guard-'));
  stack = await startLocalStack({ dataDir, port: 0, worker: false, sweepEverySeconds: 0 });
});
afterAll(async () => {
  await stack?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

const sampleWith = (url: string) => ({
  kind: 'sample',
  seed: 1,
  webhook: { url, events: ['job.succeeded'] },
});

describe('POST /v1/jobs with a webhook', () => {
  it('accepts a receiver on 127.0.0.1 and keeps the webhook on the job', async () => {
    const created = await call(stack, 'POST', '/v1/jobs', { body: sampleWith('http://127.0.0.1:9/hooks') });
    expect(created.status).toBe(202);
    const job = await stack.deps.store.jobs.get(created.body.id);
    expect(job?.webhook).toEqual({ url: 'http://127.0.0.1:9/hooks', events: ['job.succeeded'] });
  });

  it.each([
    ['169.254.169.254', 'http://169.254.169.254/latest/meta-data/', 'scheme'],
    ['the metadata address over https', 'https://169.254.169.254/latest/meta-data/', 'blocked_address'],
    ['a private address', 'https://10.0.0.1/hooks', 'blocked_address'],
    ['IPv6 loopback', 'http://[::1]:8080/hooks', 'scheme'],
    ['IPv6 loopback over https', 'https://[::1]:8080/hooks', 'blocked_address'],
    ['a name that resolves to loopback', 'https://localhost:8080/hooks', 'blocked_address'],
    ['http to a public address', 'http://93.184.215.14/hooks', 'scheme'],
  ])('refuses %s', async (_name, url, reason) => {
    const before = await call(stack, 'GET', '/v1/jobs');
    const refused = await call(stack, 'POST', '/v1/jobs', { body: sampleWith(url) });
    expect(refused.status).toBe(400);
    expect(refused.body.error).toMatchObject({
      code: 'invalid_webhook',
      details: { field: 'webhook.url', reason },
    });
    // Nothing written: the caller's job list is unchanged.
    expect((await call(stack, 'GET', '/v1/jobs')).body).toEqual(before.body);
  });

  it("with the local setting off (the cloud's rules), refuses 127.0.0.1 too", async () => {
    const deps = { ...stack.deps, config: { ...stack.deps.config, OBELM_WEBHOOK_ALLOW_LOOPBACK: false } };
    const body = sampleWith('http://127.0.0.1:9/hooks');
    const caller = { tenant: stack.tenant, limits: deps.config.OBELM_TENANT_LIMITS };
    const err = await createJob(deps, caller, body, CreateJobRequestSchema.parse(body), undefined).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ApiError);
    expect(err).toMatchObject({ code: 'invalid_webhook', details: { reason: 'scheme' } });
  });
});
