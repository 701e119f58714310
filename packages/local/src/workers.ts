import { type ChildProcess, spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Logger } from '@obelm/core';

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
/**
 * Restart backoff, as ECS restarts a task that stopped: soon after a one-off crash, slower in a crash loop
 * (0.5 s doubling to 10 s), and back to soon once a worker has stayed up a minute.
 */
export const RESTART_BACKOFF = { firstMs: 500, maxMs: 10_000, resetAfterMs: 60_000 };

export interface WorkerPool {
  /** Worker slots; each always has a process, restarted when it exits. */
  readonly count: number;
  /** Pids of the worker processes alive now. */
  pids(): number[];
  /** Processes started again after one exited, so far. */
  restarts(): number;
  /** Stops supervision, then the workers (SIGTERM, then SIGKILL after the grace period). */
  stop(): Promise<void>;
}

interface Slot {
  index: number;
  generation: number;
  child?: ChildProcess;
  delayMs: number;
  timer?: NodeJS.Timeout;
}

/**
 * Starts `count` supervised worker processes: one that exits while the stack runs (a crash, SIGKILL, a SIGTERM
 * from someone else) is logged with its exit code or signal and started again after a backoff. Each is spawned
 * with an IPC channel, which the worker program watches: when the stack dies, its workers exit too.
 * `workerScript`: a JavaScript file run with plain node instead of WORKER_MAIN through tsx (LocalStackOptions).
 */
export function startWorkerProcesses(
  count: number,
  env: Record<string, string>,
  log: Logger,
  workerScript?: string,
): WorkerPool {
  const programArgs = workerScript
    ? [workerScript]
    : ['--import', pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href, WORKER_MAIN];
  const childEnv = {
    // The local stack runs on Node 20, which the AWS SDK warns about at every client (main.ts); the cloud runs 22.
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    OBELM_STOP_GRACE_SECONDS: String(STOP_GRACE_SECONDS),
    OBELM_POLL_SECONDS: String(POLL_SECONDS),
    ...process.env,
    ...env,
  };
  const graceSeconds = Number(childEnv.OBELM_STOP_GRACE_SECONDS);
  const killAfterMs =
    (Number.isFinite(graceSeconds) ? graceSeconds : STOP_GRACE_SECONDS) * 1000 + KILL_AFTER_GRACE_MS;
  let supervising = true;
  let restarts = 0;

  const launch = (slot: Slot) => {
    // A new id per process: a restarted worker must not pass the owner check of its predecessor's job.
    const workerId = `local-${process.pid}-${slot.index}${slot.generation ? `-r${slot.generation}` : ''}`;
    const startedAt = Date.now();
    const child = spawn(process.execPath, programArgs, {
      env: { ...childEnv, OBELM_WORKER_ID: workerId },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    slot.child = child;
    let ended = false;
    const onEnd = (exitCode: number | null, signal: NodeJS.Signals | null, error?: Error) => {
      if (ended || !supervising) return;
      ended = true;
      const uptimeMs = Date.now() - startedAt;
      if (uptimeMs >= RESTART_BACKOFF.resetAfterMs) slot.delayMs = RESTART_BACKOFF.firstMs;
      const delayMs = slot.delayMs;
      slot.delayMs = Math.min(delayMs * 2, RESTART_BACKOFF.maxMs);
      log.warn('worker process exited; restarting it', {
        workerId,
        pid: child.pid,
        exitCode,
        signal,
        ...(error ? { error: error.message } : {}),
        uptimeMs,
        restartInMs: delayMs,
        restartAt: new Date(Date.now() + delayMs).toISOString(),
      });
      slot.timer = setTimeout(() => {
        slot.timer = undefined;
        slot.generation++;
        restarts++;
        launch(slot);
      }, delayMs);
    };
    child.once('exit', (code, signal) => onEnd(code, signal));
    // A process that could not be spawned emits 'error' and no 'exit'.
    child.once('error', (error) => {
      if (child.pid === undefined) onEnd(null, null, error);
      else log.error('worker process error', { workerId, pid: child.pid, error: error.message });
    });
  };

  const slots: Slot[] = Array.from({ length: count }, (_, index) => ({
    index,
    generation: 0,
    delayMs: RESTART_BACKOFF.firstMs,
  }));
  for (const slot of slots) launch(slot);

  return {
    count,
    pids: () =>
      slots.flatMap(({ child }) => (child?.pid !== undefined && isRunning(child) ? [child.pid] : [])),
    restarts: () => restarts,
    stop: async () => {
      supervising = false;
      for (const slot of slots) clearTimeout(slot.timer);
      await Promise.all(slots.map(({ child }) => (child ? stopChild(child, killAfterMs) : undefined)));
    },
  };
}

const isRunning = (child: ChildProcess) => child.exitCode === null && child.signalCode === null;

/** SIGTERM (the worker finishes or checkpoints its job), then SIGKILL if it is still there `killAfterMs` later. */
async function stopChild(child: ChildProcess, killAfterMs: number): Promise<void> {
  if (!isRunning(child) || child.pid === undefined) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
  await exited;
  clearTimeout(timer);
}
