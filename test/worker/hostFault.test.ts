import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { dbKeys, loadConfig, WorkerConfigSchema } from '@obelm/core';
import { ModelError } from '@obelm/models';
import { cudaProviderInstalled } from '@obelm/models/testing';
import { startWorker } from '@obelm/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createJob, getJob, startTestStack, type TestStack, waitForJob } from '../e2e/helpers.ts';

/**
 * A GPU worker whose GPU provider cannot load stops with one clear line instead of running jobs on one CPU
 * thread; running on cpu anyway is an explicit opt-in (OBELM_PROVIDER_FALLBACK=cpu). This machine has no
 * CUDA provider library, so requesting 'cuda' fails for real.
 */

const WORKER_MAIN = fileURLToPath(import.meta.resolve('@obelm/worker/main'));
/** main.ts's exit code for a host fault (sysexits' EX_CONFIG). */
const EXIT_HOST_FAULT = 78;

let t: TestStack;
let dir: string;
beforeAll(async () => {
  t = await startTestStack();
  dir = mkdtempSync(join(tmpdir(), 'obelm-host-'));
});
afterAll(async () => {
  await t?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** The worker program (or its `--health` check) in its own process, its output collected. */
function runMain(env: Record<string, string>, args: string[] = []) {
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', WORKER_MAIN, ...args], {
    env: { ...process.env, ...t.workerEnv, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk) => (output += chunk));
  child.stderr?.on('data', (chunk) => (output += chunk));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, exited, output: () => output };
}

async function until(what: string, condition: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

// biome-ignore lint/plugin/noSilentSkip: with the CUDA provider library installed, 'cuda' loads and nothing fails
describe.skipIf(cudaProviderInstalled())('a worker asked for an unavailable CUDA provider', () => {
  it('exits non-zero within seconds with one line that says why, and never reports healthy', async () => {
    const healthFile = join(dir, 'refused-health');
    const started = Date.now();
    const worker = runMain({ OBELM_PROVIDER: 'cuda', OBELM_HEALTH_FILE: healthFile });
    const code = await worker.exited;
    expect(code, worker.output()).toBe(EXIT_HOST_FAULT);
    expect(Date.now() - started).toBeLessThan(15_000);
    const lines = worker.output().split('\n');
    const refusals = lines.filter((line) => line.includes('execution provider failed to load'));
    expect(refusals).toHaveLength(1);
    expect(JSON.parse(refusals[0]!)).toMatchObject({
      level: 'ERROR',
      message: expect.stringMatching(
        /^CUDA execution provider failed to load: .+; refusing to run on CPU on a GPU instance/,
      ),
      code: 'provider_unavailable',
    });
    expect(existsSync(healthFile)).toBe(false);
  });

  it('runs jobs on cpu with a warning when the fallback is allowed, and passes its health check', async () => {
    const env = {
      OBELM_PROVIDER: 'cuda',
      OBELM_PROVIDER_FALLBACK: 'cpu',
      OBELM_HEALTH_FILE: join(dir, 'fallback-health'),
    };
    expect(await runMain(env, ['--health']).exited).toBe(1); // not started yet
    const worker = runMain(env);
    try {
      await until('the health file', () => existsSync(env.OBELM_HEALTH_FILE));
      expect(worker.output()).toMatch(/provider 'cuda' is unavailable \(.+\); using 'cpu'/);
      expect(await runMain(env, ['--health']).exited).toBe(0);

      const job = await createJob(t.stack, { kind: 'sample', prompt: 'red circle', seed: 1 });
      const done = await waitForJob(t.stack, job.id);
      expect(done.status, JSON.stringify(done.error)).toBe('succeeded');
    } finally {
      worker.child.kill('SIGTERM');
      expect(await worker.exited).toBe(0);
    }
  });
});

it('a job-time load that hits a host fault stops the worker and gives the job back to the queue', async () => {
  Object.assign(process.env, t.stack.env);
  const config = loadConfig(WorkerConfigSchema, t.workerEnv);
  const fault = new ModelError('provider_unavailable', 'CUDA execution provider failed to load: (test)');
  let loads = 0;
  const worker = startWorker(config, {
    loadModel: async () => {
      loads++;
      throw fault;
    },
  });
  const job = await createJob(t.stack, { kind: 'sample', prompt: 'blue square', seed: 2 });
  await expect(worker.done).rejects.toBe(fault);
  expect(loads).toBe(1); // the worker took no second job to fail the same way
  const after = await getJob(t.stack, job.id);
  expect(after.status, JSON.stringify(after)).toBe('queued');
  expect(after.error).toBeUndefined();
  const { Item } = await t.stack.deps.db.send(
    new GetCommand({ TableName: t.stack.deps.config.OBELM_TABLE, Key: dbKeys.job(job.id) }),
  );
  expect(Item?.['attempts']).toBe(0); // given back: this machine's fault is not the job's
  // A healthy worker then runs it.
  const healthy = t.spawnWorker();
  try {
    expect((await waitForJob(t.stack, job.id)).status).toBe('succeeded');
  } finally {
    await healthy.stop();
  }
});
