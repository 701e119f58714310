import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';

/**
 * Workers run as child processes of the stack, each exactly the container program (packages/worker/src/main.ts)
 * with the stack's environment: the same isolation as in the cloud, and onnxruntime's threads stay out of
 * the API's event loop.
 */
const WORKER_MAIN = fileURLToPath(new URL('../../worker/src/main.ts', import.meta.url));
const STOP_GRACE_MS = 30_000;

export interface WorkerPool {
  /** Worker processes started (0 when the worker program does not exist yet). */
  count: number;
  stop(): Promise<void>;
}

export function startWorkerProcesses(count: number, env: Record<string, string>): WorkerPool {
  if (count === 0) return { count: 0, stop: async () => {} };
  // Seam: until the worker package has its entry point, the stack runs without workers and says so.
  if (!existsSync(WORKER_MAIN)) {
    console.warn(
      `obelm: no worker entry point at ${WORKER_MAIN}; starting without workers (jobs stay queued)`,
    );
    return { count: 0, stop: async () => {} };
  }
  const tsx = createRequire(import.meta.url).resolve('tsx');
  const children: ChildProcess[] = [];
  for (let i = 0; i < count; i++) {
    children.push(
      spawn(process.execPath, ['--import', pathToFileURL(tsx).href, WORKER_MAIN], {
        env: { ...process.env, ...env, OBELM_WORKER_ID: `local-${process.pid}-${i}` },
        stdio: ['ignore', 'inherit', 'inherit'],
      }),
    );
  }
  return {
    count,
    stop: async () => {
      await Promise.all(children.map(stopChild));
    },
  };
}

/** SIGTERM (the worker finishes or checkpoints its job), then SIGKILL after the grace period. */
async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
  await exited;
  clearTimeout(timer);
}
