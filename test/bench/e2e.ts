/**
 * End-to-end benchmark of an edit through the local stack (real HTTP, S3/SQS/DynamoDB stand-ins, worker
 * processes) against the same work in this process, from one run:
 * - latency: POST /v1/jobs, then GET /v1/jobs/{id}?wait= until it is done, vs decode + edit + encode here,
 *   both at 50 steps with the demo bundle (ratio; the target is <= 1.15), and where the difference goes;
 * - time from enqueue (the POST's answer) to pick-up (the worker's claim, the job's startedAt);
 * - throughput (jobs per minute) with 1 worker process, then 2 (each as the worker runs today), with p50/p95
 *   latency (POST -> the client holds the finished job) and the job-item reads the API makes per job (almost all
 *   of them the waiting GET's: its schedule from the job's estimates, api jobs/wait.ts);
 * - the bundled worker's own start (the image's worker.mjs, built by scripts/bundleWorker.ts): spawn -> polling,
 *   -> model ready (its health file), -> first job done, with the demo bundle already in the model cache.
 * Bounded: fixed job counts and a hard deadline. Run: npx tsx test/bench/e2e.ts (or npm run bench).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { JobView } from '@obelm/core';
import { edit } from '@obelm/engine';
import { type LocalStack, startLocalStack } from '@obelm/local';
import { decodeImage, demoDataset, encodeImage, ensureDemoBundle, loadBundle } from '@obelm/models';
import { buildWorkerBundle, startBundledWorker } from '../worker/bundledWorker.ts';

// The bench runs on Node 20 here; the AWS SDK's Node-version notice would only clutter the table.
process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] ??= 'true';

const STEPS = 50;
const LATENCY_RUNS = 9;
const THROUGHPUT_JOBS = 24;
/** The target for stack latency over in-process latency. */
const TARGET_RATIO = 1.15;
/** The worker package's container program, through its `./main` export. */
const WORKER_MAIN = fileURLToPath(import.meta.resolve('@obelm/worker/main'));

const deadline = setTimeout(() => {
  console.error('bench: hard deadline (150 s) reached');
  process.exit(1);
}, 150_000);

const median = (xs: readonly number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
/** The `p`-th percentile (nearest rank). */
const percentile = (xs: readonly number[], p: number) =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.ceil((p / 100) * xs.length) - 1)]!;
const ms = (x: number) => `${x.toFixed(1)} ms`;

/** One job through the stack, timed from the client's side with the worker's timestamps and report. */
interface StackRun {
  totalMs: number;
  createMs: number;
  /** POST answered (the message is sent) -> the worker's claim (startedAt). */
  pickupMs: number;
  /** Claim -> the finishing write (finishedAt). */
  workerMs: number;
  /** finishedAt -> the client holds the finished job. */
  deliverMs: number;
  job: JobView;
}

async function main() {
  const dataDir = mkdtempSync(join(tmpdir(), 'obelm-bench-'));
  const modelCache = join(dataDir, 'models');
  await ensureDemoBundle(modelCache);
  const png = await encodeImage(
    { data: demoDataset().images.slice(0, 3 * 32 * 32), shape: [1, 3, 32, 32] },
    'png',
  );
  const request = {
    kind: 'edit',
    image: { base64: Buffer.from(png).toString('base64') },
    sourcePrompt: 'circle',
    targetPrompt: 'square',
    steps: STEPS,
  };

  // In-process: the worker's work for this job (decode the PNG, the edit pipeline, encode the PNG) on a loaded
  // model, as in a warm worker. Two warm-up runs, then the measured ones.
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
  const jobReads = countJobReads(stack);
  const env = { ...stack.env, OBELM_MODEL_CACHE: modelCache };
  const workers: ChildProcess[] = [];
  const rows: [string, string][] = [];
  try {
    workers.push(await spawnWorker(env));
    await submitAndWait(stack, request); // warm-up: connections, first-job paths

    const runs: StackRun[] = [];
    jobReads.reset();
    for (let i = 0; i < LATENCY_RUNS; i++) runs.push(await submitAndWait(stack, request));
    const sequentialReads = jobReads.count() / LATENCY_RUNS;
    const reports = await Promise.all(runs.map((run) => fetchReport(run.job)));
    const inMs = median(inProcess);
    const stackMs = median(runs.map((r) => r.totalMs));
    rows.push(
      ['edit in-process: decode + edit + encode (median)', ms(inMs)],
      ['edit through the local stack (median)', ms(stackMs)],
      [`ratio stack / in-process (target <= ${TARGET_RATIO})`, (stackMs / inMs).toFixed(2)],
      ['  stack overhead (difference of medians)', ms(stackMs - inMs)],
      [
        `  pipeline length where that overhead is ${Math.round((TARGET_RATIO - 1) * 100)}%`,
        ms((stackMs - inMs) / (TARGET_RATIO - 1)),
      ],
      ['  create: POST /v1/jobs round trip', ms(median(runs.map((r) => r.createMs)))],
      ['  enqueue -> pick-up (POST answered -> claimed)', ms(median(runs.map((r) => r.pickupMs)))],
      ['  worker: claimed -> finished', ms(median(runs.map((r) => r.workerMs)))],
      ['    of which input load + decode (report)', ms(median(reports.map((r) => r.timings.loadMs)))],
      ['    of which pipeline (report)', ms(median(reports.map((r) => r.timings.computeMs)))],
      ['  finished -> client holds the job (GET ?wait=)', ms(median(runs.map((r) => r.deliverMs)))],
      [
        'latency one at a time, p50 / p95',
        `${ms(
          percentile(
            runs.map((r) => r.totalMs),
            50,
          ),
        )} / ${ms(
          percentile(
            runs.map((r) => r.totalMs),
            95,
          ),
        )}`,
      ],
      ['job-item reads by the API per job, one at a time', sequentialReads.toFixed(1)],
    );

    for (const count of [1, 2]) {
      while (workers.length < count) {
        workers.push(await spawnWorker(env));
        await Promise.all(Array.from({ length: 2 * count }, () => submitAndWait(stack, request)));
      }
      // Jobs per minute from the first submission to the last finishing write (the client's wait adds nothing).
      jobReads.reset();
      const start = Date.now();
      const done = await Promise.all(
        Array.from({ length: THROUGHPUT_JOBS }, () => submitAndWait(stack, request)),
      );
      const lastFinished = Math.max(...done.map((r) => Date.parse(r.job.finishedAt!)));
      const perMinute = (THROUGHPUT_JOBS / (lastFinished - start)) * 60_000;
      const latency = done.map((r) => r.totalMs);
      rows.push(
        [
          `throughput, ${count} worker process(es), ${THROUGHPUT_JOBS} edits at once`,
          `${perMinute.toFixed(0)} jobs/min`,
        ],
        [
          `  latency p50 / p95 (POST -> finished job held, queueing included)`,
          `${ms(percentile(latency, 50))} / ${ms(percentile(latency, 95))}`,
        ],
        ['  job-item reads by the API per job', (jobReads.count() / THROUGHPUT_JOBS).toFixed(1)],
      );
    }
    await Promise.all(workers.splice(0).map(stopWorker));
    rows.push(...(await bundledWorkerStart(env, dataDir, stack, request)));
  } finally {
    await Promise.all(workers.map(stopWorker));
    await stack.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
  const width = Math.max(...rows.map(([name]) => name.length));
  console.log(`\nworker end-to-end benchmark (demo bundle, ${STEPS} steps, ${LATENCY_RUNS} runs, CPU)\n`);
  for (const [name, value] of rows) console.log(`${name.padEnd(width)}  ${value}`);
  clearTimeout(deadline);
}

/**
 * Counts the job-item reads (GetItem of a JOB# key) the stack's in-process API makes: the waiting GET's, with
 * the few other reads of a job (a replay, a cancel). The workers are other processes: their reads do not count.
 */
function countJobReads(stack: LocalStack): { reset(): void; count(): number } {
  let reads = 0;
  stack.deps.db.middlewareStack.add(
    (next, context) => async (args) => {
      const input = args.input as { Key?: unknown };
      if (context.commandName?.startsWith('Get') && JSON.stringify(input.Key ?? {}).includes('"JOB#'))
        reads++;
      return next(args);
    },
    { step: 'initialize', name: 'benchJobReads' },
  );
  return {
    reset: () => {
      reads = 0;
    },
    count: () => reads,
  };
}

/** Spawn-to-ready of the bundled worker: what a container adds to a cold start besides the image pull. */
async function bundledWorkerStart(
  env: Record<string, string>,
  dataDir: string,
  stack: LocalStack,
  request: object,
): Promise<[string, string][]> {
  const file = await buildWorkerBundle(join(dataDir, 'bundle'));
  const spawnedAt = performance.now();
  const worker = await startBundledWorker(file, env);
  try {
    const readyMs = await worker.ready;
    await submitAndWait(stack, request);
    const firstJobMs = performance.now() - spawnedAt;
    return [
      ['bundled worker: spawn -> "worker started" (polling)', ms(worker.startedMs)],
      ['bundled worker: spawn -> model ready (health file)', ms(readyMs)],
      ['bundled worker: spawn -> first job done (submitted when ready)', ms(firstJobMs)],
    ];
  } finally {
    await worker.stop();
  }
}

async function submitAndWait(stack: LocalStack, request: object): Promise<StackRun> {
  const headers = { authorization: `Bearer ${stack.devKey}`, 'content-type': 'application/json' };
  const start = performance.now();
  const created = await fetch(`${stack.apiUrl}/v1/jobs`, {
    method: 'POST',
    headers,
    body: JSON.stringify(request),
  });
  const enqueuedAt = Date.now();
  const createMs = performance.now() - start;
  const { id } = (await created.json()) as JobView;
  for (;;) {
    const job = (await (await fetch(`${stack.apiUrl}/v1/jobs/${id}?wait=20`, { headers })).json()) as JobView;
    if (job.status === 'queued' || job.status === 'running') continue;
    if (job.status !== 'succeeded') throw new Error(`job ${id} ${job.status}: ${JSON.stringify(job.error)}`);
    const startedAt = Date.parse(job.startedAt!);
    const finishedAt = Date.parse(job.finishedAt!);
    return {
      totalMs: performance.now() - start,
      createMs,
      pickupMs: startedAt - enqueuedAt,
      workerMs: finishedAt - startedAt,
      deliverMs: Date.now() - finishedAt,
      job,
    };
  }
}

async function fetchReport(job: JobView): Promise<{ timings: { loadMs: number; computeMs: number } }> {
  const res = await fetch(job.outputs!.report!.url);
  return (await res.json()) as { timings: { loadMs: number; computeMs: number } };
}

/** The container program as a child process; resolves once it polls the queue. */
async function spawnWorker(env: Record<string, string>): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', WORKER_MAIN], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  const lines = createInterface({ input: child.stdout! });
  await new Promise<void>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`worker exited with ${code}`)));
    lines.on('line', (line) => {
      if (line.includes('"worker started"')) resolve();
    });
  });
  return child;
}

function stopWorker(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

await main();
