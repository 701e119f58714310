import { type ChildProcess, spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';

/**
 * Workers run as child processes of the stack, each exactly the container program (the worker package's
 * `./main` export) with the stack's environment: the same isolation as in the cloud, and onnxruntime's threads
 * stay out of the API's event loop.
 */
const WORKER_MAIN = fileURLToPath(import.meta.resolve('@obelm/worker/main'));
/**
 * A local worker's grace period (OBELM_STOP_GRACE_SECONDS; the container default is 90 s for spot's 2 minutes):
 * short enough that the worker checkpoints its job and exits before we SIGKILL it, which we do this long
 * after the grace period (time to save the checkpoint). Ctrl-C should not take minutes.
 */
const STOP_GRACE_SECONDS = 20;
const KILL_AFTER_GRACE_MS = 10_000;
/** An idle worker's stop waits for its long poll to end (worker.ts), so local polls are kept short. */
const POLL_SECONDS = 5;

export interface WorkerPool {
  /** Worker processes started. */
  count: number;
  stop(): Promise<void>;
}

export function startWorkerProcesses(count: number, env: Record<string, string>): WorkerPool {
  if (count === 0) return { count: 0, stop: async () => {} };
  const tsx = createRequire(import.meta.url).resolve('tsx');
  const childEnv = {
    OBELM_STOP_GRACE_SECONDS: String(STOP_GRACE_SECONDS),
    OBELM_POLL_SECONDS: String(POLL_SECONDS),
    ...process.env,
    ...env,
  };
  const graceSeconds = Number(childEnv.OBELM_STOP_GRACE_SECONDS);
  const killAfterMs =
    (Number.isFinite(graceSeconds) ? graceSeconds : STOP_GRACE_SECONDS) * 1000 + KILL_AFTER_GRACE_MS;
  const children: ChildProcess[] = [];
  for (let i = 0; i < count; i++) {
    children.push(
      spawn(process.execPath, ['--import', pathToFileURL(tsx).href, WORKER_MAIN], {
        env: { ...childEnv, OBELM_WORKER_ID: `local-${process.pid}-${i}` },
        stdio: ['ignore', 'inherit', 'inherit'],
      }),
    );
  }
  return {
    count,
    stop: async () => {
      await Promise.all(children.map((child) => stopChild(child, killAfterMs)));
    },
  };
}

/** SIGTERM (the worker finishes or checkpoints its job), then SIGKILL if it is still there `killAfterMs` later. */
async function stopChild(child: ChildProcess, killAfterMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
  await exited;
  clearTimeout(timer);
}
