import { createServer } from 'node:net';
import { type JobView, type Usage, usageMonth } from '@obelm/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call } from '../api/helpers.ts';
import { startTestStack, type TestStack, waitForJob } from '../e2e/helpers.ts';
import { obelm, obelmOk, tenantWithKey } from './helpers.ts';

/**
 * `obelm usage` against a local stack: the same numbers as GET /v1/usage, money as exact decimals of the
 * currency, as a table or CSV, with the key from --key, OBELM_API_KEY or the stack's dev key.
 */

let t: TestStack;
let key: string;
/** What the API answers for the tenant this month. */
let usage: Usage;

beforeAll(async () => {
  t = await startTestStack();
  // The worker starts while the tenant is made.
  const worker = t.spawnWorker();
  ({ key } = await tenantWithKey(t.stack.dataDir, 'metered'));
  const as = { ...t.stack, devKey: key };
  const body = { kind: 'sample', prompt: 'red circle', seed: 1, steps: 4 };
  const job = (await call(t.stack, 'POST', '/v1/jobs', { key, body })).body as JobView;
  expect((await waitForJob(as, job.id)).status).toBe('succeeded');
  await worker.stop();
  // Canceled while queued: counted, at no cost.
  const queued = (await call(t.stack, 'POST', '/v1/jobs', { key, body: { kind: 'sample', seed: 2 } })).body;
  expect((await call(t.stack, 'POST', `/v1/jobs/${queued.id}/cancel`, { key })).body.status).toBe('canceled');
  const deadline = Date.now() + 5000;
  do {
    usage = (await call(t.stack, 'GET', '/v1/usage', { key })).body;
  } while (usage.total.jobs < 2 && Date.now() < deadline);
  expect(usage.total.jobs).toBe(2);
  expect(usage.total.amountMicros).toBeGreaterThan(0);
});
afterAll(async () => {
  await t?.stop();
});

/** `1234567` micro-units -> `1.234567`, by hand, for the expectations. */
const units = (micros: number) => `${Math.floor(micros / 1e6)}.${String(micros % 1e6).padStart(6, '0')}`;
const seconds = (ms: number) => `${Math.floor(ms / 1000)}.${String(ms % 1000).padStart(3, '0')}`;

// Read-only commands: the tests run at once.
describe.concurrent('obelm usage', () => {
  it('prints the CSV of the totals, by model and by kind, equal to the API', async () => {
    const out = await obelmOk(t.stack.dataDir, ['usage', '--csv', '--key', key]);
    const month = usageMonth(new Date());
    const { total, byModel, byKind, currency } = usage;
    expect(out.trim().split('\n')).toEqual([
      'month,scope,name,jobs,gpu_seconds,amount,currency',
      `${month},total,,2,${seconds(total.gpuMs)},${units(total.amountMicros)},${currency}`,
      `${month},model,demo,2,${seconds(byModel['demo']!.gpuMs)},${units(byModel['demo']!.amountMicros)},${currency}`,
      `${month},kind,sample,2,${seconds(byKind['sample']!.gpuMs)},${units(byKind['sample']!.amountMicros)},${currency}`,
    ]);
  });

  it('prints a table, with the key from OBELM_API_KEY', async () => {
    const out = await obelmOk(t.stack.dataDir, ['usage'], { OBELM_API_KEY: key });
    const lines = out.trim().split('\n');
    expect(lines[0]).toBe(
      `usage of ${usage.month} (UTC), in ${usage.currency}; monthly budgets reset at ${usage.resetsAt}`,
    );
    expect(lines[2]).toMatch(new RegExp(`^ +JOBS +GPU SECONDS +AMOUNT \\(${usage.currency}\\)$`));
    expect(lines[3]).toMatch(
      new RegExp(
        `^total +2 +${seconds(usage.total.gpuMs)} +${units(usage.total.amountMicros).replace('.', '\\.')}$`,
      ),
    );
    expect(lines.slice(4).map((line) => line.split(/ +/).slice(0, 3))).toEqual([
      ['model', 'demo', '2'],
      ['kind', 'sample', '2'],
    ]);
  });

  it("uses the local stack's dev key by default, and another month when asked", async () => {
    // The dev tenant has run nothing.
    const [dev, past] = await Promise.all([
      obelmOk(t.stack.dataDir, ['usage', '--csv']),
      obelmOk(t.stack.dataDir, ['usage', '--csv', '--month', '2001-02', '--key', key]),
    ]);
    expect(dev.trim().split('\n')[1]).toBe(
      `${usageMonth(new Date())},total,,0,0.000,0.000000,${usage.currency}`,
    );
    expect(past.trim().split('\n')).toEqual([
      'month,scope,name,jobs,gpu_seconds,amount,currency',
      `2001-02,total,,0,0.000,0.000000,${usage.currency}`,
    ]);
  });

  it('fails in one line (exit 1) on a refused key or an API that does not answer', async () => {
    const refused = await obelm(t.stack.dataDir, ['usage', '--key', 'not-a-key']);
    expect(refused.code).toBe(1);
    expect(refused.stderr.trim()).toBe('obelm: 401 unauthorized: Unknown API key');
    // A port nothing listens on.
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    await new Promise((resolve) => server.close(resolve));
    const down = await obelm(t.stack.dataDir, ['usage', '--key', key, '--url', `http://127.0.0.1:${port}`]);
    expect(down.code).toBe(1);
    expect(down.stderr.trim().split('\n')).toHaveLength(1);
    expect(down.stderr).toMatch(new RegExp(`^obelm: cannot reach http://127.0.0.1:${port}`));
  });
});
