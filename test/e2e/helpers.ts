import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { JobStatus, JobView } from '@obelm/core';
import { type LocalStack, startLocalStack } from '@obelm/local';
import { demoDataset, demoItems, encodeImage, ensureDemoBundle } from '@obelm/models';
import { workerBundle } from '../testBundle.ts';

/** Worker settings for tests: fast heartbeats and short polls so stops and redeliveries take seconds. */
export const TEST_WORKER_ENV = { OBELM_HEARTBEAT_SECONDS: '1', OBELM_POLL_SECONDS: '1' };

export interface TestStack {
  stack: LocalStack;
  /** Starts a worker process with `workerEnv` plus `extraEnv`; any still running at stop() is killed. */
  spawnWorker(extraEnv?: Record<string, string>): WorkerProcess;
  /** Env a worker process needs: the stack's, the test settings, a shared model cache. */
  workerEnv: Record<string, string>;
  stop(): Promise<void>;
}

/** A local stack in a fresh folder (no in-stack workers: tests start their own) and a pre-built demo bundle. */
export async function startTestStack(): Promise<TestStack> {
  const dataDir = mkdtempSync(join(tmpdir(), 'obelm-e2e-'));
  const modelCache = join(dataDir, 'models');
  await ensureDemoBundle(modelCache);
  const stack = await startLocalStack({ dataDir, port: 0, worker: false });
  const workerEnv = { ...stack.env, ...TEST_WORKER_ENV, OBELM_MODEL_CACHE: modelCache };
  const spawned: WorkerProcess[] = [];
  return {
    stack,
    workerEnv,
    spawnWorker: (extraEnv = {}) => {
      const worker = spawnWorker({ ...workerEnv, ...extraEnv });
      spawned.push(worker);
      return worker;
    },
    stop: async () => {
      for (const worker of spawned) worker.child.kill('SIGKILL');
      await stack.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** The worker container program in its own process, as ECS runs it. */
export interface WorkerProcess {
  readonly child: ChildProcess;
  /** SIGTERM, then wait for the exit code. */
  stop(): Promise<number | null>;
}

/**
 * The worker's container program bundled (testBundle.ts), for plain node: tests start dozens of workers, each
 * a second or more of CPU through tsx. Built here, before any test, so that spawnWorker stays synchronous; the
 * stacks of tests with supervised workers run it too (LocalStackOptions.workerScript). npm start's worker runs
 * the sources through tsx (test/local/npmStart.test.ts).
 */
export const WORKER_SCRIPT = await workerBundle();

export function spawnWorker(env: Record<string, string>): WorkerProcess {
  const child = spawn(process.execPath, [WORKER_SCRIPT], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    child,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      return exited;
    },
  };
}

/** Calls the API with the dev key. */
export async function api<T = unknown>(
  stack: LocalStack,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; body: T }> {
  const res = await fetch(`${stack.apiUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${stack.devKey}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as T };
}

export async function createJob(stack: LocalStack, request: object): Promise<JobView> {
  const res = await api<JobView>(stack, 'POST', '/v1/jobs', request);
  if (res.status !== 202) throw new Error(`create job: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body;
}

export const getJob = async (stack: LocalStack, id: string) =>
  (await api<JobView>(stack, 'GET', `/v1/jobs/${id}`)).body;

/** Polls until the job reaches one of `statuses` (default: any terminal one). */
export async function waitForJob(
  stack: LocalStack,
  id: string,
  statuses: readonly JobStatus[] = ['succeeded', 'failed', 'canceled', 'expired'],
  timeoutMs = 30_000,
  until: (job: JobView) => boolean = () => true,
): Promise<JobView> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const job = await getJob(stack, id);
    if (statuses.includes(job.status) && until(job)) return job;
    if (Date.now() > deadline) throw new Error(`job ${id} is still ${job.status}: ${JSON.stringify(job)}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

export async function download(url: string): Promise<Uint8Array> {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`download ${url}: ${res.status}`);
  return new Uint8Array(await res.arrayBuffer());
}

/** A demo dataset image (e.g. a red circle, navy background, centre) as PNG bytes. */
export async function demoPng(words: {
  shape: string;
  colour: string;
  background?: string;
  position?: string;
}) {
  const dataset = demoDataset();
  const index = demoItems().findIndex(
    (item) =>
      item.shape === words.shape &&
      item.colour === words.colour &&
      item.background === (words.background ?? 'navy') &&
      item.position === (words.position ?? 'center'),
  );
  if (index < 0) throw new Error(`no demo item ${JSON.stringify(words)}`);
  const d = 3 * dataset.size * dataset.size;
  const pixels = {
    data: dataset.images.slice(index * d, (index + 1) * d),
    shape: [1, 3, dataset.size, dataset.size],
  };
  return encodeImage(pixels, 'png');
}

export const base64 = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64');
