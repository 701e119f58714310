import { AUTH_CACHE_MS, type JobView, type Usage } from '@obelm/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { obelm, obelmOk, tenantWithKey } from '../cli/helpers.ts';
import { startTestStack, type TestStack, waitForJob } from '../e2e/helpers.ts';
import { call, type Reply } from './helpers.ts';

/**
 * Tenants and keys through the local stack, each made with the real `obelm admin` command line: one tenant
 * never sees another's jobs, noise, uploads or usage; a revoked key and a suspended tenant are refused within
 * 5 s; a key over its requests per second is refused with 429 and Retry-After, and what it refused created
 * nothing.
 */

let t: TestStack;
let dataDir: string;
const key = { a: '', b: '' };

beforeAll(async () => {
  t = await startTestStack();
  dataDir = t.stack.dataDir;
  [key.a, key.b] = (
    await Promise.all([tenantWithKey(dataDir, 'tenant-a'), tenantWithKey(dataDir, 'tenant-b')])
  ).map((made) => made.key) as [string, string];
});
afterAll(async () => {
  await t?.stop();
});

const as = (who: keyof typeof key, method: string, path: string, body?: unknown) =>
  call(t.stack, method, path, { key: key[who], ...(body === undefined ? {} : { body }) });

/** Polls `request` until it answers 401, at the latest by `deadline` (epoch ms); the refusal. */
async function refusedBy(deadline: number, request: () => Promise<Reply>): Promise<Reply> {
  for (;;) {
    const res = await request();
    if (res.status === 401) return res;
    expect(res.status).toBe(200);
    if (Date.now() > deadline)
      throw new Error(`still accepted ${Date.now() - deadline} ms after the deadline`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe('isolation between tenants', () => {
  let job: JobView;
  /** B's one job, canceled while queued. */
  let bJob: JobView;
  let uploadId: string;

  beforeAll(async () => {
    const worker = t.spawnWorker();
    job = (await as('a', 'POST', '/v1/jobs', { kind: 'sample', prompt: 'red circle', seed: 3, steps: 4 }))
      .body;
    expect(job.status).toBe('queued');
    expect((await waitForJob({ ...t.stack, devKey: key.a }, job.id)).status).toBe('succeeded');
    await worker.stop();
    const upload = await as('a', 'POST', '/v1/uploads', { contentType: 'image/png' });
    expect(upload.status).toBe(201);
    uploadId = upload.body.uploadId;
  });

  it("answers 404 for the other tenant's job, to read, cancel or delete it", async () => {
    expect((await as('a', 'GET', `/v1/jobs/${job.id}`)).status).toBe(200);
    for (const [method, path] of [
      ['GET', `/v1/jobs/${job.id}`],
      ['POST', `/v1/jobs/${job.id}/cancel`],
      ['DELETE', `/v1/jobs/${job.id}`],
    ] as const) {
      const res = await as('b', method, path);
      expect(res.status, `${method} ${path}`).toBe(404);
      expect(res.body.error.code).toBe('job_not_found');
    }
    // Still there for its owner, untouched.
    expect((await as('a', 'GET', `/v1/jobs/${job.id}`)).body.status).toBe('succeeded');
  });

  it("refuses the other tenant's noise and uploads as unknown", async () => {
    const noise = await as('b', 'POST', '/v1/jobs', { kind: 'invert', noise: { jobId: job.id } });
    expect(noise.status).toBe(404);
    expect(noise.body.error.code).toBe('unknown_noise');
    const upload = await as('b', 'POST', '/v1/jobs', { kind: 'invert', image: { uploadId } });
    expect(upload.status).toBe(404);
    expect(upload.body.error.code).toBe('unknown_upload');
  });

  it("lists only the caller's jobs", async () => {
    bJob = (await as('b', 'POST', '/v1/jobs', { kind: 'sample', seed: 1 })).body as JobView;
    const listed = await as('b', 'GET', '/v1/jobs?limit=100');
    expect(listed.status).toBe(200);
    expect(listed.body.jobs.map((j: JobView) => j.id)).toEqual([bJob.id]);
    const theirs = await as('a', 'GET', '/v1/jobs?limit=100');
    expect(theirs.body.jobs.map((j: JobView) => j.id)).toEqual([job.id]);
    expect((await as('b', 'POST', `/v1/jobs/${bJob.id}/cancel`)).body.status).toBe('canceled');
  });

  it('shows each tenant its own usage only', async () => {
    /** The caller's usage once it counts `jobs` jobs (an ended job's entry is written just after its end). */
    const usageOf = async (who: keyof typeof key, jobs: number): Promise<Usage> => {
      const deadline = Date.now() + 5000;
      for (;;) {
        const res = await as(who, 'GET', '/v1/usage');
        expect(res.status).toBe(200);
        if (res.body.total.jobs >= jobs || Date.now() > deadline) return res.body as Usage;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    };
    const a = await usageOf('a', 1);
    expect(a.total.jobs).toBe(1);
    expect(a.byStatus['succeeded']?.jobs).toBe(1);
    expect(a.total.gpuMs).toBeGreaterThan(0);
    expect(a.total.amountMicros).toBeGreaterThan(0);
    // B's one job was canceled while queued: counted, no GPU time; none of A's.
    const b = await usageOf('b', 1);
    expect(b.total).toMatchObject({ jobs: 1, gpuMs: 0 });
    expect(Object.keys(b.byStatus)).toEqual(['canceled']);
  });
});

// Tenants of their own, and most of the time spent waiting for the API's cache: these tests run at once.
describe.concurrent('revocation and suspension', () => {
  it('refuses a revoked key within 5 s, everywhere, and keeps the other keys of its tenant', async () => {
    await obelmOk(dataDir, ['admin', 'create-tenant', 'tenant-r']);
    const newKey = async () =>
      JSON.parse(await obelmOk(dataDir, ['admin', 'create-key', '--tenant', 'tenant-r', '--json'])) as {
        keyId: string;
        key: string;
      };
    const [first, second] = await Promise.all([newKey(), newKey()]);
    const list = (k: string) => call(t.stack, 'GET', '/v1/jobs', { key: k });
    // Trusted (and cached) by the API before the revocation.
    expect((await list(first.key)).status).toBe(200);
    await obelmOk(dataDir, ['admin', 'revoke-key', first.keyId]);
    const refused = await refusedBy(Date.now() + 5000, () => list(first.key));
    expect(refused.body.error).toMatchObject({ code: 'unauthorized', details: { reason: 'revoked' } });
    expect((await list(second.key)).status).toBe(200);
    const keys = JSON.parse(await obelmOk(dataDir, ['admin', 'list-keys', '--tenant', 'tenant-r', '--json']));
    expect(keys.map((k: { keyId: string; status: string }) => [k.keyId, k.status])).toContainEqual([
      first.keyId,
      'revoked',
    ]);
  });

  it('refuses every key of a suspended tenant within 5 s, and takes them again once resumed', async () => {
    const { key: k } = await tenantWithKey(dataDir, 'tenant-s');
    const list = () => call(t.stack, 'GET', '/v1/jobs', { key: k });
    expect((await list()).status).toBe(200);
    await obelmOk(dataDir, ['admin', 'suspend-tenant', 'tenant-s']);
    const refused = await refusedBy(Date.now() + 5000, list);
    expect(refused.body.error).toMatchObject({ code: 'unauthorized', details: { reason: 'suspended' } });
    // A refusal is not cached: the resumed tenant's key works at once.
    await obelmOk(dataDir, ['admin', 'resume-tenant', 'tenant-s']);
    expect((await list()).status).toBe(200);
  });

  it('refuses a key of a tenant that does not exist, and a key that is not one', async () => {
    const fake = `obelm_key_abcdefghijkl_${'A'.repeat(43)}`;
    const res = await call(t.stack, 'GET', '/v1/jobs', { key: fake });
    expect(res.status).toBe(401);
    expect(res.body.error.details.reason).toBe('unknown');
    // A real key id with another secret.
    const wrongSecret = `${key.a.slice(0, -43)}${'B'.repeat(43)}`;
    expect((await call(t.stack, 'GET', '/v1/jobs', { key: wrongSecret })).body.error.details.reason).toBe(
      'unknown',
    );
  });
});

describe('rate limit', () => {
  /** Waits for the start of the next second, so a burst falls in one rate window. */
  const nextSecond = () => new Promise((resolve) => setTimeout(resolve, 1000 - (Date.now() % 1000) + 20));

  it('refuses requests over the per-second limit with 429 and Retry-After, creating nothing', async () => {
    await obelmOk(dataDir, ['admin', 'create-tenant', 'tenant-l']);
    const [, made] = await Promise.all([
      obelmOk(dataDir, ['admin', 'set-limits', '--tenant', 'tenant-l', '--requests-per-second', '2']),
      obelmOk(dataDir, ['admin', 'create-key', '--tenant', 'tenant-l']),
    ]);
    const limited = made.trim();
    const as = (method: string, path: string, body?: unknown) =>
      call(t.stack, method, path, { key: limited, ...(body === undefined ? {} : { body }) });
    const refusals = (replies: Reply[]) => replies.filter((r) => r.status === 429);

    await nextSecond();
    const gets = await Promise.all(Array.from({ length: 6 }, () => as('GET', '/v1/jobs')));
    expect(gets.filter((r) => r.status === 200)).toHaveLength(2);
    expect(refusals(gets)).toHaveLength(4);
    for (const res of refusals(gets)) {
      expect(res.body.error).toMatchObject({ code: 'rate_limited', details: { limit: 2 } });
      expect(res.headers.get('retry-after')).toBe('1');
    }

    await nextSecond();
    const posts = await Promise.all(
      Array.from({ length: 6 }, (_, seed) => as('POST', '/v1/jobs', { kind: 'sample', seed })),
    );
    const accepted = posts.filter((r) => r.status === 202).map((r) => r.body.id as string);
    expect(accepted).toHaveLength(2);
    expect(refusals(posts)).toHaveLength(4);

    // After Retry-After: accepted again; and the refused requests created no job.
    await nextSecond();
    const listed = await as('GET', '/v1/jobs?limit=100');
    expect(listed.status).toBe(200);
    expect(listed.body.jobs.map((j: JobView) => j.id).sort()).toEqual(accepted.sort());
  });

  it("applies a tenant's new limit to keys the API already trusts within 5 s", async () => {
    const { key: k } = await tenantWithKey(dataDir, 'tenant-m');
    expect((await call(t.stack, 'GET', '/v1/jobs', { key: k })).status).toBe(200);
    await obelmOk(dataDir, ['admin', 'set-limits', '--tenant', 'tenant-m', '--requests-per-second', '1']);
    // The API trusts what it read of the key, its tenant's limits included, for AUTH_CACHE_MS.
    await new Promise((resolve) => setTimeout(resolve, AUTH_CACHE_MS));
    await nextSecond();
    const burst = await Promise.all(
      Array.from({ length: 3 }, () => call(t.stack, 'GET', '/v1/jobs', { key: k })),
    );
    expect(burst.map((r) => r.status).sort()).toEqual([200, 429, 429]);
  });
});

describe.concurrent('the command line against the stack', () => {
  it('refuses a key for a suspended or unknown tenant, and a second tenant of the same id', async () => {
    const unknownRun = obelm(dataDir, ['admin', 'create-key', '--tenant', 'nobody']);
    await obelmOk(dataDir, ['admin', 'create-tenant', 'tenant-x']);
    const again = await obelm(dataDir, ['admin', 'create-tenant', 'tenant-x']);
    expect(again.code).toBe(1);
    expect(again.stderr.trim()).toBe('obelm: Tenant tenant-x already exists');
    await obelmOk(dataDir, ['admin', 'suspend-tenant', 'tenant-x']);
    const suspended = await obelm(dataDir, ['admin', 'create-key', '--tenant', 'tenant-x']);
    expect(suspended.code).toBe(1);
    expect(suspended.stderr).toContain('suspended');
    const unknown = await unknownRun;
    expect(unknown.code).toBe(1);
    expect(unknown.stderr.trim()).toBe('obelm: No tenant nobody');
  });

  it('creates jobs with a key it made, and the dev key still works', async () => {
    const { key: k } = await tenantWithKey(dataDir, 'tenant-y');
    const res = await call(t.stack, 'POST', '/v1/jobs', { key: k, body: { kind: 'sample', seed: 1 } });
    expect(res.status).toBe(202);
    expect((await call(t.stack, 'GET', '/v1/jobs')).status).toBe(200);
  });
});
