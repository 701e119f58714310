import { spawn } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { createJob, WORKER_SCRIPT, waitForJob } from '../e2e/helpers.ts';
import { isAlive, removeTempDirs, startTestStack, tempDir, waitFor } from './helpers.ts';

afterAll(removeTempDirs);

const FIXTURE = new URL('./fixtures/stackProcess.ts', import.meta.url).pathname;

// Three stacks of their own, each test mostly waiting on worker starts and backoffs: they run at once.
describe.concurrent('worker supervision', () => {
  it('restarts a worker that was killed or stopped by someone else, and the stack keeps serving jobs', async () => {
    const stack = await startTestStack({ worker: 1 });
    try {
      expect(stack.workers).toBe(1);
      const [first] = await waitFor('a worker', () => stack.workerPids().length === 1 && stack.workerPids());
      process.kill(first!, 'SIGKILL');
      const second = await waitFor('a restarted worker', () =>
        stack.workerPids().find((pid) => pid !== first),
      );
      expect(stack.workerRestarts()).toBe(1);
      expect(isAlive(first!)).toBe(false);

      // A SIGTERM the stack did not send: the worker stops, and is started again all the same.
      process.kill(second, 'SIGTERM');
      const third = await waitFor('a second restart', () =>
        stack.workerPids().find((pid) => pid !== first && pid !== second),
      );
      expect(stack.workerRestarts()).toBe(2);

      const job = await createJob(stack, { kind: 'sample', prompt: 'a red circle', seed: 1 });
      expect((await waitForJob(stack, job.id, ['succeeded', 'failed'])).status).toBe('succeeded');

      await stack.stop();
      // Stopping stops supervision first: the stopped worker is not restarted.
      expect(stack.workerPids()).toEqual([]);
      expect(stack.workerRestarts()).toBe(2);
      expect(isAlive(third)).toBe(false);
    } finally {
      await stack.stop();
    }
  });

  it('keeps restarting a worker that cannot start, with a growing delay, until the stack stops', async () => {
    // An invalid setting: the worker program exits 1 at start, every time.
    const stack = await startTestStack({ worker: 1, workerEnv: { OBELM_POLL_SECONDS: '99' } });
    try {
      const started = Date.now();
      await waitFor('two restarts', () => stack.workerRestarts() >= 2, 30_000);
      // 0.5 s then 1 s of backoff, on top of each start-up.
      expect(Date.now() - started).toBeGreaterThanOrEqual(1_500);
    } finally {
      await stack.stop();
    }
    const restarts = stack.workerRestarts();
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    // A restart that was pending when the stack stopped never happens.
    expect(stack.workerRestarts()).toBe(restarts);
    expect(stack.workerPids()).toEqual([]);
  });

  it('a worker exits when its stack process dies (SIGKILL): no orphan left looping on connection errors', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', FIXTURE, tempDir(), WORKER_SCRIPT], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      out += chunk;
    });
    let workerPid: number | undefined;
    try {
      const started = await waitFor(
        'the stack and its worker',
        () => {
          const line = out.split('\n').find((l) => l.includes('"workerPids"'));
          // The worker's own log (its stdout is the stack's): it is past start-up, polling the queue.
          return line !== undefined && out.includes('"worker started"') && JSON.parse(line);
        },
        60_000,
      );
      workerPid = started.workerPids[0] as number;
      expect(isAlive(workerPid)).toBe(true);

      child.kill('SIGKILL');
      await waitFor('the orphaned worker to exit', () => !isAlive(workerPid!), 5_000);
    } finally {
      child.kill('SIGKILL');
      if (workerPid !== undefined && isAlive(workerPid)) process.kill(workerPid, 'SIGKILL');
    }
  });
});
