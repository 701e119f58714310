/**
 * Reliability benchmark through the local stack (real HTTP, S3/SQS/DynamoDB stand-ins, supervised worker
 * processes), from one run:
 * - load: 500 sample jobs from 25 concurrent clients on 2 workers, one worker SIGKILLed halfway; every job must
 *   succeed exactly once with its seed's bytes; prints throughput and p50/p95 latency;
 * - checkpoint cost: what one periodic checkpoint (save the state pair, record it on the item, delete the one
 *   before) adds to a run, for the demo model's 1x3x32x32 latent and an SD-size 1x4x64x64 one, next to one
 *   step's model time, measured as the difference between jobs run with a checkpoint after every step and none.
 * Bounded: fixed job counts and a hard deadline. Run: npx tsx test/bench/reliability.ts (or npm run bench).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type JobView, loadConfig, WorkerConfigSchema } from '@obelm/core';
import type { DiffusionModel } from '@obelm/engine';
import { type LocalStack, startLocalStack } from '@obelm/local';
import { ensureDemoBundle, loadBundle } from '@obelm/models';
import { startWorker } from '@obelm/worker';
import { TEST_WORKER_ENV } from '../e2e/helpers.ts';
import { checkLoad, quantile, runLoad } from '../reliability/load.ts';

// The bench runs on Node 20 here; the AWS SDK's Node-version notice and the services' info lines (this
// process's and the worker processes', which inherit its environment) would only clutter the tables.
process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] ??= 'true';
process.env['OBELM_LOG_LEVEL'] ??= 'ERROR';

const LOAD = { jobs: 500, clients: 25, killAfter: 250, steps: 8, seeds: [1, 2, 3, 4, 5], timeoutMs: 200_000 };
const COST_STEPS = 20;
const COST_RUNS = 5;
/** A real fp16 SD 1.5 UNet step on a GPU (README, "Accuracy and speed"): the step an SD checkpoint sits next to. */
const SD_GPU_STEP_MS = 12;
const DEFAULT_CHECKPOINT_SECONDS = WorkerConfigSchema.shape.OBELM_CHECKPOINT_SECONDS.parse(undefined);

const deadline = setTimeout(() => {
  console.error('bench: hard deadline (280 s) reached');
  process.exit(1);
}, 280_000);

const ms = (x: number) => `${x.toFixed(2)} ms`;
const median = (xs: readonly number[]) => quantile(xs, 0.5);

async function main() {
  const dataDir = mkdtempSync(join(tmpdir(), 'obelm-bench-rel-'));
  const modelCache = join(dataDir, 'models');
  await ensureDemoBundle(modelCache);
  try {
    const cost = await checkpointCost(join(dataDir, 'cost'), modelCache);
    const load = await loadTest(join(dataDir, 'load'), modelCache);
    printTable('load: 500 jobs, 25 clients, 2 workers, one SIGKILLed halfway (demo, 8 steps)', load);
    printTable(
      `checkpoint cost (save + record + delete the previous), vs one step; default interval ${DEFAULT_CHECKPOINT_SECONDS} s of model time`,
      cost,
    );
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
    clearTimeout(deadline);
  }
}

async function loadTest(dataDir: string, modelCache: string): Promise<string[][]> {
  const stack = await startLocalStack({
    dataDir,
    port: 0,
    worker: 2,
    sweepEverySeconds: 1,
    workerEnv: { ...TEST_WORKER_ENV, OBELM_MODEL_CACHE: modelCache },
  });
  try {
    const result = await runLoad(stack, LOAD);
    const check = await checkLoad(stack, result);
    const latencies = result.runs.map((r) => r.latencyMs);
    return [
      [
        'jobs succeeded exactly once, same bytes per seed',
        `${result.runs.length - check.problems.length} / ${LOAD.jobs}`,
      ],
      ...(check.problems.length ? [['problems', check.problems.slice(0, 5).join('; ')]] : []),
      ['jobs claimed twice (the killed worker held them)', String(check.reclaimed)],
      ['worker processes restarted', String(stack.workerRestarts())],
      ['wall time', `${(result.wallMs / 1000).toFixed(1)} s`],
      ['throughput', `${((LOAD.jobs / result.wallMs) * 60_000).toFixed(0)} jobs/min`],
      ['latency p50 (POST -> seen finished)', ms(quantile(latencies, 0.5))],
      ['latency p95', ms(quantile(latencies, 0.95))],
      ['latency max', ms(Math.max(...latencies))],
    ];
  } finally {
    await stack.stop();
  }
}

/** Per latent size: the cost of one checkpoint and one step's model time, from jobs with and without. */
async function checkpointCost(dataDir: string, modelCache: string): Promise<string[][]> {
  const stack = await startLocalStack({ dataDir, port: 0, worker: false, sweepEverySeconds: 0 });
  Object.assign(process.env, stack.env); // the in-process workers' SDK clients read endpoints from here
  const demo = await loadBundle('demo', { provider: 'cpu', cacheDir: modelCache });
  const rows = [
    [
      'latent',
      'state pair',
      'one checkpoint',
      'model step',
      'share of a step',
      'share at the default interval',
    ],
  ];
  try {
    for (const [name, model, stepRef] of [
      ['demo 1x3x32x32', demo, undefined],
      ['SD-size 1x4x64x64', sdShaped(demo), SD_GPU_STEP_MS],
    ] as const) {
      const off = await runJobs(stack, model, 0);
      const on = await runJobs(stack, model, 1e-9);
      const perCheckpoint = (median(on.computeMs) - median(off.computeMs)) / (COST_STEPS - 1);
      const stepMs = stepRef ?? median(off.modelMs) / COST_STEPS;
      const pairBytes = 2 * 8 * model.latentShape.reduce((a, b) => a * b, 1);
      rows.push([
        name,
        `${(pairBytes / 1024).toFixed(0)} KiB`,
        ms(perCheckpoint),
        stepRef ? `${ms(stepRef)} (fp16 UNet, GPU)` : `${ms(stepMs)} (measured)`,
        `${((perCheckpoint / stepMs) * 100).toFixed(0)}%`,
        `${((perCheckpoint / (DEFAULT_CHECKPOINT_SECONDS * 1000)) * 100).toFixed(2)}%`,
      ]);
    }
  } finally {
    await demo.close();
    await stack.stop();
  }
  return rows;
}

/** COST_RUNS sample jobs on an in-process worker that loads `model`, checkpointing every `seconds` of model time. */
async function runJobs(stack: LocalStack, model: DiffusionModel, seconds: number) {
  const config = loadConfig(WorkerConfigSchema, {
    ...stack.env,
    ...TEST_WORKER_ENV,
    OBELM_CHECKPOINT_SECONDS: String(seconds),
  });
  const worker = startWorker(config, { loadModel: async () => model });
  const computeMs: number[] = [];
  const modelMs: number[] = [];
  try {
    for (let i = 0; i <= COST_RUNS; i++) {
      const report = await runOne(stack, {
        kind: 'sample',
        prompt: 'white cross',
        seed: i,
        steps: COST_STEPS,
      });
      if (i === 0) continue; // warm-up
      computeMs.push(report.timings.computeMs);
      modelMs.push(report.timings.modelMs);
    }
  } finally {
    await worker.stop();
  }
  return { computeMs, modelMs };
}

async function runOne(stack: LocalStack, request: object) {
  const headers = { authorization: `Bearer ${stack.devKey}`, 'content-type': 'application/json' };
  const read = async (res: Promise<Response>) => (await (await res).json()) as JobView;
  const body = JSON.stringify(request);
  let job = await read(fetch(`${stack.apiUrl}/v1/jobs`, { method: 'POST', headers, body }));
  while (job.status === 'queued' || job.status === 'running') {
    job = await read(fetch(`${stack.apiUrl}/v1/jobs/${job.id}?wait=20`, { headers }));
  }
  if (job.status !== 'succeeded')
    throw new Error(`job ${job.id} ${job.status}: ${JSON.stringify(job.error)}`);
  const report = await (await fetch(job.outputs!.report!.url)).json();
  return report as { timings: { computeMs: number; modelMs: number } };
}

/**
 * The demo model's schedule, defaults and prompts on an SD-size latent: a cheap linear noise predictor, and the
 * first three latent channels as the image. Only the checkpoint size matters here, not what it draws.
 */
function sdShaped(demo: DiffusionModel): DiffusionModel {
  return {
    ...demo,
    latentShape: [1, 4, 64, 64],
    imageSize: [64, 64],
    encode: async () => {
      throw new Error('not used: sample jobs only');
    },
    decode: async (latent) => latent.data.slice(0, 3 * 64 * 64).map((v) => Math.tanh(v)),
    eps: async (x) => x.data.map((v) => 0.05 * v),
  };
}

function printTable(title: string, rows: string[][]) {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
  console.log(`\n${title}\n`);
  for (const row of rows) console.log(row.map((cell, c) => cell.padEnd(widths[c]!)).join('  '));
}

await main();
