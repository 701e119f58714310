import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type JobView, loadConfig, WorkerConfigSchema } from '@obelm/core';
import { type LocalStack, startLocalStack } from '@obelm/local';
import { type RunningWorker, startWorker } from '@obelm/worker';
import { afterAll, beforeAll, expect, test } from 'vitest';

/** What the fake ECS agent received. */
interface AgentRequest {
  method: string;
  path: string;
  body: { ProtectionEnabled?: boolean; ExpiresInMinutes?: number };
}

let stack: LocalStack;
let dataDir: string;
let agent: Server;
let worker: RunningWorker;
const requests: AgentRequest[] = [];
let agentStatus = 200;

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'obelm-protection-'));
  stack = await startLocalStack({ dataDir, port: 0, worker: false });
  Object.assign(process.env, stack.env);
  // Plays the ECS agent's task-protection endpoint on loopback.
  agent = createServer((req, res) => {
    let text = '';
    req.on('data', (chunk) => {
      text += chunk;
    });
    req.on('end', () => {
      requests.push({ method: req.method ?? '', path: req.url ?? '', body: JSON.parse(text || '{}') });
      res.writeHead(agentStatus, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify(agentStatus === 200 ? { protection: {} } : { error: { Code: 'ServerException' } }),
      );
    });
  });
  await new Promise<void>((resolve) => agent.listen(0, '127.0.0.1', resolve));
  process.env.ECS_AGENT_URI = `http://127.0.0.1:${(agent.address() as AddressInfo).port}/api/task-1`;
  const config = loadConfig(WorkerConfigSchema, {
    ...stack.env,
    OBELM_HEARTBEAT_SECONDS: '1',
    OBELM_POLL_SECONDS: '1',
    OBELM_MODEL_CACHE: join(dataDir, 'models'),
    OBELM_TEST_STEP_DELAY_MS: '30',
  });
  worker = startWorker(config);
});
afterAll(async () => {
  await worker?.stop();
  await stack?.stop();
  await new Promise((resolve) => agent?.close(resolve));
  delete process.env.ECS_AGENT_URI;
  rmSync(dataDir, { recursive: true, force: true });
});

async function call(method: string, path: string, body?: object): Promise<JobView> {
  const res = await fetch(`${stack.apiUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${stack.devKey}`, 'content-type': 'application/json' },
    body: body && JSON.stringify(body),
  });
  return (await res.json()) as JobView;
}

async function waitFor<T>(read: () => Promise<T> | T, done: (value: T) => boolean): Promise<T> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`timed out; last value ${JSON.stringify(value)}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const lastRequest = () => requests.at(-1);

test('the task is protected while it runs a job, and unprotected once idle', async () => {
  expect(requests).toEqual([]); // idle since start: nothing to protect
  const job = await call('POST', '/v1/jobs', { kind: 'sample', prompt: 'blue square', seed: 4, steps: 20 });
  await waitFor(
    () => call('GET', `/v1/jobs/${job.id}`),
    (j) => j.status === 'running' && (j.progress?.step ?? 0) > 0,
  );
  expect(lastRequest()).toEqual({
    method: 'PUT',
    path: '/api/task-1/task-protection/v1/state',
    body: { ProtectionEnabled: true, ExpiresInMinutes: 60 },
  });

  const done = await waitFor(
    () => call('GET', `/v1/jobs/${job.id}`),
    (j) => j.status !== 'running' && j.status !== 'queued',
  );
  expect(done.status).toBe('succeeded');
  await waitFor(lastRequest, (r) => r?.body.ProtectionEnabled === false);
  expect(requests.map((r) => r.body.ProtectionEnabled)).toEqual([true, false]);
});

test('an agent that refuses does not fail the job', async () => {
  agentStatus = 500;
  const before = requests.length;
  const job = await call('POST', '/v1/jobs', { kind: 'sample', prompt: 'red circle', seed: 5, steps: 4 });
  const done = await waitFor(
    () => call('GET', `/v1/jobs/${job.id}`),
    (j) => j.status !== 'running' && j.status !== 'queued',
  );
  expect(done.status).toBe('succeeded');
  await waitFor(
    () => requests.length,
    (n) => n === before + 2,
  );
});
