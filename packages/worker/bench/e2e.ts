/**
 * End-to-end benchmark of the worker through the local stack (real HTTP, stand-ins, worker processes):
 * - edit latency through the stack vs the same pipeline in-process (ratio; target <= 1.15 at 50 steps);
 * - time from enqueue to pick-up (the job's queueMs);
 * - throughput (jobs per minute) with 1 and 2 worker processes.
 * Bounded: fixed job counts and a hard deadline. Run: npm run bench -w packages/worker
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { JobView } from '@obelm/core';
import { edit } from '@obelm/engine';
import { type LocalStack, startLocalStack } from '@obelm/local';
import { decodeImage, demoDataset, encodeImage, ensureDemoBundle, loadBundle } from '@obelm/models';

const STEPS = 50;
const LATENCY_RUNS = 7;
const THROUGHPUT_JOBS = 24;
const deadline = setTimeout(() => {
  console.error('bench: hard deadline reached');
  process.exit(1);
}, 240_000);

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main() {
  const dataDir = mkdtempSync(join(tmpdir(), 'obelm-bench-'));
  const modelCache = join(dataDir, 'models');
  await ensureDemoBundle(modelCache);
  const dataset = demoDataset();
  const d = 3 * 32 * 32;
  const png = await encodeImage({ data: dataset.images.slice(0, d), shape: [1, 3, 32, 32] }, 'png');
  const request = {
    kind: 'edit',
    image: { base64: Buffer.from(png).toString('base64') },
    sourcePrompt: 'circle',
    targetPrompt: 'square',
    steps: STEPS,
  };

  // In-process: decode + the same edit pipeline + encode, model already loaded (as in a warm worker).
  const model = await loadBundle('demo', { provider: 'cpu', cacheDir: modelCache });
  const inProcess: number[] = [];
  for (let i = 0; i < LATENCY_RUNS + 2; i++) {
    const start = performance.now();
    const image = await decodeImage(png, { size: model.imageSize });
    const result = await edit(model, { image, sourcePrompt: 'circle', targetPrompt: 'square', steps: STEPS });
    await encodeImage(result.image, 'png');
    if (i >= 2) inProcess.push(performance.now() - start);
  }
  await model.close();

  const stack = await startLocalStack({ dataDir, port: 0, worker: false });
  const env = { ...stack.env, OBELM_MODEL_CACHE: modelCache };
  const rows: string[][] = [];
  try {
    let workers = spawnWorkers(1, env);
    await submitAndWait(stack, request); // warm-up: model load in the worker
    const e2e: number[] = [];
    const pickup: number[] = [];
    for (let i = 0; i < LATENCY_RUNS; i++) {
      const start = performance.now();
      const job = await submitAndWait(stack, request);
      e2e.push(performance.now() - start);
      pickup.push(job.metrics?.queueMs ?? Number.NaN);
    }
    const inMs = median(inProcess);
    const e2eMs = median(e2e);
    rows.push(['edit, in-process (median)', `${inMs.toFixed(1)} ms`]);
    rows.push(['edit, through the local stack (median)', `${e2eMs.toFixed(1)} ms`]);
    rows.push(['ratio stack / in-process (target <= 1.15)', (e2eMs / inMs).toFixed(2)]);
    rows.push(['enqueue -> pick-up (median queueMs)', `${median(pickup).toFixed(0)} ms`]);

    for (const count of [1, 2]) {
      if (count !== 1) {
        await stopWorkers(workers);
        workers = spawnWorkers(count, env);
        await Promise.all(Array.from({ length: count * 2 }, () => submitAndWait(stack, request)));
      }
      const start = performance.now();
      await Promise.all(Array.from({ length: THROUGHPUT_JOBS }, () => submitAndWait(stack, request)));
      const perMinute = (THROUGHPUT_JOBS / (performance.now() - start)) * 60_000;
      rows.push([
        `throughput, ${count} worker(s), ${THROUGHPUT_JOBS} edits`,
        `${perMinute.toFixed(0)} jobs/min`,
      ]);
    }
    await stopWorkers(workers);
  } finally {
    await stack.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
  const width = Math.max(...rows.map((r) => r[0]!.length));
  console.log(`\nworker end-to-end benchmark (demo bundle, ${STEPS} steps, CPU)\n`);
  for (const [name, value] of rows) console.log(`${name!.padEnd(width)}  ${value}`);
  clearTimeout(deadline);
}

async function submitAndWait(stack: LocalStack, request: object): Promise<JobView> {
  const headers = { authorization: `Bearer ${stack.devKey}`, 'content-type': 'application/json' };
  const created = await fetch(`${stack.apiUrl}/v1/jobs`, {
    method: 'POST',
    headers,
    body: JSON.stringify(request),
  });
  const { id } = (await created.json()) as JobView;
  for (;;) {
    const job = (await (await fetch(`${stack.apiUrl}/v1/jobs/${id}`, { headers })).json()) as JobView;
    if (job.status === 'succeeded') return job;
    if (job.status !== 'queued' && job.status !== 'running') throw new Error(`job ${id} ${job.status}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

function spawnWorkers(count: number, env: Record<string, string>): ChildProcess[] {
  return Array.from({ length: count }, () =>
    spawn(process.execPath, ['--import', 'tsx', 'packages/worker/src/main.ts'], {
      cwd: new URL('../../..', import.meta.url).pathname,
      env: { ...process.env, ...env },
      stdio: 'ignore',
    }),
  );
}

async function stopWorkers(children: ChildProcess[]): Promise<void> {
  await Promise.all(
    children.map(
      (child) =>
        new Promise<void>((resolve) => {
          child.once('exit', () => resolve());
          child.kill('SIGTERM');
        }),
    ),
  );
}

await main();
