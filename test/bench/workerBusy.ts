/**
 * Scheduler benchmark, worker part (issue 14): how busy one worker keeps its model over a stream of jobs.
 *
 * A worker in this process (startWorker), its model the stub GPU model (the demo model's eps, each call lasting
 * 15 + 1 * rows ms of wall time: a GPU UNet call's economics), against a local stack in a child process (its API,
 * stand-ins and sweeps on their own event loop, as in the cloud they are on other machines), runs a stream of
 * 20-step guided sample jobs submitted on a clock, faster than it can run them. Busy fraction: time the stub GPU
 * ran eps calls over the wall time from the first claim to the model's last call (and to the last end). Measured
 * side by side in one run with OBELM_WORKER_SLOTS=1 (one job in the model at a time, as the serial worker ran,
 * though already prefetching and finishing off the model's path) and with the default slots (jobs' calls merged
 * by the model's batcher, across timesteps too: the demo model has epsRows, so jobs at different steps share
 * calls; two cohorts take turns), three streams of the latter and the median one reported.
 *
 * Second scenario, batch-8: 8 compatible 20-step guided sample jobs waiting in the queue at once, taken by a worker
 * with 8 slots, against the same 8 taken by a worker with one slot (one at a time in the model): the throughput
 * ratio on the real worker path, and whether every job's image and noise, downloaded, are byte-identical to its
 * one-at-a-time run's; three such pairs, one after another, and the median pair's figures. Third, sustained: 24
 * jobs waiting, with the default slots against one. Fourth, steady: 40 jobs waiting, 8 slots against one, and the
 * rate at which jobs end once the first 8 have ended: the throughput of a worker kept full, where each group's
 * finishing writes overlap the next group's calls and the first claims and last writes, paid once per run, are
 * left out on both sides.
 * Each ratio is printed twice: to the last job's end, and to the model's last call (the model's side: what the
 * scheduler decides; the difference is the last group's finishing writes, which no later job overlaps).
 *
 * Run alone: npx tsx test/bench/workerBusy.ts; npm run bench:scheduler combines it with the batching figures.
 * Neither exits non-zero on a missed target: benches report, they do not gate.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { dbKeys, type JobItem, type JobView, loadConfig, WorkerConfigSchema } from '@obelm/core';
import { startLocalStack } from '@obelm/local';
import { ensureDemoBundle } from '@obelm/models';
import { type AwsClients, createAwsClients, loadModelBundle, startWorker } from '@obelm/worker';
import { type StubGpuModel, stubGpuModel } from '@obelm/worker/testing';
import { download } from '../e2e/helpers.ts';

const STEPS = 20;
/** CFG on: 2 rows per eps call, as an SD job's. */
const GUIDANCE = 2;
/** Time between two submissions: several jobs a job's model time, so a backlog builds up. */
const SUBMIT_EVERY_MS = 20;
/** The target for the pipelined worker. */
export const BUSY_TARGET = 0.95;
const PROMPTS = ['red circle', 'blue square', 'green triangle', 'white cross'];
/** Jobs of the batch-8 scenario, and the slots of its batched worker. */
export const BATCH_JOBS = 8;
/**
 * Runs of the default-slots stream, and side-by-side pairs (one slot, then BATCH_JOBS slots) of the batch-8
 * scenario: the figures are the median run's, or pair's. One run swings with what else this machine's two cores
 * carry in its few seconds (over the same code: 3.7-4.2x for one pair, 93-97 % busy for one stream).
 */
export const REPEATS = 3;
/** Jobs of the sustained scenario: three groups of BATCH_JOBS. */
export const SUSTAINED_JOBS = 24;
/** Jobs of the steady scenario (BATCH_JOBS slots): five groups, four of them after the first group has ended. */
export const STEADY_JOBS = 40;

export interface WorkerBusyRun {
  readonly slots: number;
  readonly jobs: number;
  /** First claim to last end. */
  readonly wallMs: number;
  /** First claim to the last eps call's end: the model's side of wallMs, without the last jobs' finishing. */
  readonly modelSideMs: number;
  /** First claim to the first eps call's start: the claims, inputs and setup before the model has rows. */
  readonly startMs: number;
  /** The last eps call's end to the last end: the last jobs' outputs, written with nothing left to overlap. */
  readonly tailMs: number;
  /** Inside the stub's eps calls, within that window. */
  readonly modelMs: number;
  /** modelMs over wallMs: busy to the last end. */
  readonly busyFraction: number;
  /** modelMs over modelSideMs: busy while the model had jobs, to its last call. */
  readonly busyWhileJobs: number;
  readonly jobsPerMinute: number;
  /**
   * Jobs ended per minute once the first BATCH_JOBS have ended (the ends after the BATCH_JOBS-th, over the time
   * from it to the last): the rate of a worker already full, its first claims and last writes left out on both
   * sides.
   * Only for runs of more than BATCH_JOBS jobs.
   */
  readonly steadyJobsPerMinute?: number;
  /**
   * CPU a job took, over the run: the worker's process (its event loop, the model's session thread, whose eps the
   * stub computes for real on this CPU, and its SDK clients), and the stack's (API, stand-ins); the stack's only
   * where /proc tells it.
   */
  readonly cpuMsPerJob: { readonly worker: number; readonly stack?: number };
  /** Stub eps calls over the stream, and their mean rows. */
  readonly calls: number;
  readonly meanRows: number;
}

/** Jobs waiting at once, through a worker with several slots and one with 1 (batch-8: 8 jobs, 8 slots). */
export interface WorkerBatchFigures {
  /** OBELM_WORKER_SLOTS=1: one job at a time in the model. */
  readonly oneAtATime: WorkerBusyRun;
  /** Several slots: 8 for batch-8, the default (16) for the sustained scenario. */
  readonly together: WorkerBusyRun;
  /** Jobs/min together over jobs/min one at a time, first claim to last end. */
  readonly ratio: number;
  /** The same, first claim to the last eps call's end: the model's side, without the last jobs' finishing. */
  readonly modelSideRatio: number;
  /** The same, steady: steadyJobsPerMinute together over one at a time (runs of more than BATCH_JOBS jobs). */
  readonly steadyRatio?: number;
  /** Every job's image and noise bytes (downloaded) equal its one-at-a-time run's, in every pair. */
  readonly exact: boolean;
  /** Where the figures are the median pair's (batch-8): every pair's ratios, in the order run. */
  readonly pairs?: readonly { readonly ratio: number; readonly modelSideRatio: number }[];
}

export interface WorkerBusyFigures {
  /** OBELM_WORKER_SLOTS=1. */
  readonly serial: WorkerBusyRun;
  /** The default slots and batch rows: the median of REPEATS streams by busyWhileJobs. */
  readonly pipelined: WorkerBusyRun;
  /** busyWhileJobs of each of those streams, in the order run. */
  readonly pipelinedBusy: readonly number[];
  readonly target: number;
  readonly batch8: WorkerBatchFigures;
  /** SUSTAINED_JOBS waiting at once: the default slots against one, over several groups. */
  readonly sustained: WorkerBatchFigures;
  /** STEADY_JOBS waiting at once: BATCH_JOBS slots against one, to the steady rate of a full worker. */
  readonly steady: WorkerBatchFigures;
}

/** Runs both streams and the batch-8 scenario on one local stack (in a child process) and returns their figures. */
export async function measureWorkerBusy(
  options: { serialJobs?: number; pipelinedJobs?: number } = {},
): Promise<WorkerBusyFigures> {
  // A stack process must never start a bench (and so another stack process) of its own.
  if (process.env[CHILD_ENV]) throw new Error('measureWorkerBusy called inside the bench stack process');
  // The worker's lines (and the stack's, inherited) would drown the figures: warnings and errors only, unless asked.
  process.env['OBELM_LOG_LEVEL'] ??= 'WARN';
  const dataDir = mkdtempSync(join(tmpdir(), 'obelm-bench-busy-'));
  const modelCache = join(dataDir, 'models');
  let stack: BenchStack | undefined;
  try {
    await ensureDemoBundle(modelCache);
    // The dev tenant may have the whole stream running at once (parallelJobs would hold most of it back).
    const limits = { requestsPerSecond: 1000, parallelJobs: 1000, maxActiveJobs: 1000 };
    const running = await startStackProcess(join(dataDir, 'stack'), {
      OBELM_TENANT_LIMITS: JSON.stringify(limits),
    });
    stack = running; // stopped in finally, however the figures end
    // The SDK clients read endpoints and credentials from the environment, as in ECS.
    Object.assign(process.env, running.env);
    const env = { ...running.env, OBELM_MODEL_CACHE: modelCache, OBELM_POLL_SECONDS: '1' };
    const serial = await stream(running, { ...env, OBELM_WORKER_SLOTS: '1' }, options.serialJobs ?? 16);
    const streams = await medianOf(
      () => stream(running, env, options.pipelinedJobs ?? 48),
      (run) => run.busyWhileJobs,
    );
    const pairs = await medianOf(
      () => waitingJobs(running, env, BATCH_JOBS, BATCH_JOBS),
      (pair) => pair.modelSideRatio,
    );
    const batch8: WorkerBatchFigures = {
      ...pairs.median,
      exact: pairs.runs.every((pair) => pair.exact),
      pairs: pairs.runs.map(({ ratio, modelSideRatio }) => ({ ratio, modelSideRatio })),
    };
    const sustained = await waitingJobs(running, env, SUSTAINED_JOBS);
    const steady = await waitingJobs(running, env, STEADY_JOBS, BATCH_JOBS);
    return {
      serial,
      pipelined: streams.median,
      pipelinedBusy: streams.runs.map((run) => run.busyWhileJobs),
      target: BUSY_TARGET,
      batch8,
      sustained,
      steady,
    };
  } finally {
    await stack?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/** The local stack as the bench sees it from its own process: the API, and a table client for the job items. */
export interface BenchStack {
  readonly apiUrl: string;
  readonly devKey: string;
  /** What a worker needs: endpoints, names, credentials (LocalStack.env). */
  readonly env: Record<string, string>;
  readonly clients: AwsClients;
  /** CPU time the stack's process has used so far (user + system, ms); undefined where /proc is not there. */
  cpuMs(): number | undefined;
  stop(): Promise<void>;
}

/** What the child prints, one JSON line on stdout, once its stack listens. */
interface StackReady {
  readonly apiUrl: string;
  readonly devKey: string;
  readonly env: Record<string, string>;
}

/** Bounds on the child: its start, its stop after SIGTERM, and its whole life should the bench hang. */
const STACK_START_MS = 60_000;
const STACK_STOP_MS = 10_000;
const STACK_LIFE_MS = 15 * 60_000;
const CHILD_FLAG = '--stack-child';
/** Set in the child's environment: its service settings (JSON), and the mark that it is the stack process. */
const CHILD_ENV = 'OBELM_BENCH_STACK_SERVICE_ENV';

/**
 * Starts this file as a child process that runs a local stack (no workers) in `dataDir` and reports where it
 * listens. The child is killed at stop(), on a failed start and, should the bench exit without stopping it, at
 * this process's exit; it also stops by itself when its stdin closes (this process died) or its life runs out.
 */
export async function startStackProcess(
  dataDir: string,
  serviceEnv: Record<string, string>,
): Promise<BenchStack> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', fileURLToPath(import.meta.url), CHILD_FLAG, dataDir],
    {
      env: { ...process.env, [CHILD_ENV]: JSON.stringify(serviceEnv) },
      stdio: ['pipe', 'pipe', 'inherit'],
    },
  );
  const killAtExit = () => child.kill('SIGKILL');
  process.once('exit', killAtExit);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    process.off('exit', killAtExit);
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), STACK_STOP_MS);
    await exited;
    clearTimeout(timer);
  };
  try {
    const ready = await readyLine(child);
    const clients = createAwsClients(ready.env);
    return {
      ...ready,
      clients,
      cpuMs: () => processCpuMs(child.pid),
      stop: async () => {
        clients.s3.destroy();
        clients.sqs.destroy();
        clients.db.destroy();
        await stop();
      },
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** The child's ready line, within STACK_START_MS; rejects if it exits first. */
function readyLine(child: ChildProcess): Promise<StackReady> {
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    const timer = setTimeout(
      () => fail(new Error(`local stack not ready in ${STACK_START_MS} ms`)),
      STACK_START_MS,
    );
    const onExit = (code: number | null) =>
      fail(new Error(`local stack process exited (${code}) before ready`));
    const done = () => {
      clearTimeout(timer);
      child.off('exit', onExit);
      lines.close();
    };
    const fail = (error: Error) => {
      done();
      reject(error);
    };
    child.once('exit', onExit);
    lines.on('line', (line) => {
      if (!line.startsWith('{')) return;
      done();
      resolve(JSON.parse(line) as StackReady);
    });
  });
}

/** The child's side: a local stack until SIGTERM, stdin's end or STACK_LIFE_MS. */
async function serveStack(dataDir: string): Promise<void> {
  const serviceEnv = JSON.parse(process.env[CHILD_ENV] ?? '{}') as Record<string, string>;
  const stack = await startLocalStack({ dataDir, port: 0, worker: false, serviceEnv });
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    stack.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        console.error(error);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', stop);
  process.stdin.on('end', stop).resume();
  setTimeout(stop, STACK_LIFE_MS).unref();
  const ready: StackReady = { apiUrl: stack.apiUrl, devKey: stack.devKey, env: stack.env };
  process.stdout.write(`${JSON.stringify(ready)}\n`);
}

/**
 * One worker, its own stub model: a warm-up job (model load, invariance check), then the jobs `submitJobs`
 * submits. With `backlog`, the warm worker stops after its warm-up, the jobs are submitted to the idle queue, and
 * a second worker on the same loaded model starts on them: all of them waiting at once, as a backlog is (the
 * local API takes submissions one at a time, about 12 ms apart, where Lambda would take 8 at once).
 */
async function withWorker(
  stack: BenchStack,
  env: Record<string, string>,
  submitJobs: () => Promise<string[]>,
  options: { backlog?: boolean } = {},
): Promise<{ run: WorkerBusyRun; items: JobItem[] }> {
  const config = loadConfig(WorkerConfigSchema, env);
  let stub: StubGpuModel | undefined;
  /** When the first eps call of the measured jobs started, and the last one ended (Date.now(), as the items'). */
  let firstCallStart: number | undefined;
  let lastCallEnd = 0;
  // One loader for both workers of a backlog run: the worker's model cache is per loader, so the second one finds
  // the model loaded and checked.
  const loadModel = async (id: string) => {
    stub = timedCalls(stubGpuModel(await loadModelBundle(id, config)), {
      started: (at) => {
        firstCallStart ??= at;
      },
      ended: (at) => {
        lastCallEnd = at;
      },
    });
    return stub;
  };
  let worker = startWorker(config, { loadModel });
  try {
    await waitEnded(stack, [await submit(stack, 0)]);
    firstCallStart = undefined; // the warm-up's calls are not the measured jobs'
    let ids: string[] = [];
    if (options.backlog) {
      await worker.stop();
      ids = await submitJobs();
      worker = startWorker(config, { loadModel });
    }
    const before = { busy: stub!.busyMs(), ...stub!.calls() };
    const cpuBefore = { worker: process.cpuUsage(), stack: stack.cpuMs() };
    if (!options.backlog) ids = await submitJobs();
    const items = await waitEnded(stack, ids);
    const after = { busy: stub!.busyMs(), ...stub!.calls() };
    const workerCpu = process.cpuUsage(cpuBefore.worker);
    const stackCpuAfter = stack.cpuMs();
    const failed = items.filter((item) => item.status !== 'succeeded');
    if (failed.length > 0)
      throw new Error(`${failed.length} jobs did not succeed: ${failed[0]!.error?.message}`);
    const firstClaim = Math.min(...items.map((item) => Date.parse(item.startedAt!)));
    const ends = items.map((item) => Date.parse(item.finishedAt!)).sort((a, b) => a - b);
    const lastEnd = ends.at(-1)!;
    // The steady window opens at the end of the BATCH_JOBS-th job: a full worker's first group has ended.
    const steadyMs = lastEnd - ends[BATCH_JOBS - 1]!;
    const wallMs = lastEnd - firstClaim;
    const modelSideMs = lastCallEnd - firstClaim;
    if (firstCallStart === undefined) throw new Error('the jobs made no eps call');
    const modelMs = after.busy - before.busy;
    const calls = after.calls - before.calls;
    const run = {
      slots: config.OBELM_WORKER_SLOTS,
      jobs: ids.length,
      wallMs,
      modelSideMs,
      startMs: firstCallStart - firstClaim,
      tailMs: lastEnd - lastCallEnd,
      modelMs: Math.round(modelMs),
      busyFraction: modelMs / wallMs,
      busyWhileJobs: modelMs / modelSideMs,
      jobsPerMinute: Math.round((ids.length / wallMs) * 60_000),
      ...(ids.length > BATCH_JOBS && steadyMs > 0
        ? { steadyJobsPerMinute: Math.round(((ids.length - BATCH_JOBS) / steadyMs) * 600_000) / 10 }
        : {}),
      cpuMsPerJob: {
        worker: Math.round((workerCpu.user + workerCpu.system) / 1000 / ids.length),
        ...(cpuBefore.stack !== undefined && stackCpuAfter !== undefined
          ? { stack: Math.round((stackCpuAfter - cpuBefore.stack) / ids.length) }
          : {}),
      },
      calls,
      meanRows: Math.round(((after.rows - before.rows) / calls) * 10) / 10,
    };
    return { run, items };
  } finally {
    await worker.stop();
  }
}

/** `stub` with each eps call's start and end reported (Date.now()). */
function timedCalls(
  stub: StubGpuModel,
  report: { started(at: number): void; ended(at: number): void },
): StubGpuModel {
  const { eps, epsRows } = stub;
  const timed = (call: () => Promise<Float64Array>) => {
    report.started(Date.now());
    return call().then((result) => {
      report.ended(Date.now());
      return result;
    });
  };
  return {
    ...stub,
    eps: (x, t, emb, signal) => timed(() => eps(x, t, emb, signal)),
    ...(epsRows ? { epsRows: (x, t, emb, signal) => timed(() => epsRows(x, t, emb, signal)) } : {}),
  };
}

/** A stream of `count` jobs, one submitted every SUBMIT_EVERY_MS. */
async function stream(stack: BenchStack, env: Record<string, string>, count: number): Promise<WorkerBusyRun> {
  // Each submission leaves on the clock, not after the previous one's answer: the API shares its process with the
  // stand-ins the worker keeps busy, and a submitter that waited for each answer would arrive only as fast as
  // the worker lets the API answer, starving the worker it measures.
  const submitStream = async () => {
    const ids: Promise<string>[] = [];
    for (let n = 1; n <= count; n++) {
      ids.push(submit(stack, n));
      await sleep(SUBMIT_EVERY_MS);
    }
    return Promise.all(ids);
  };
  return (await withWorker(stack, env, submitStream)).run;
}

/**
 * `count` jobs waiting in the queue at once (a backlog), taken by a worker with one slot, then by one with
 * `slotsTogether` slots (default: the configured default): 8 jobs with 8 slots, the batch-8 scenario;
 * more jobs with the default 16 slots, two cohorts taking turns on the model, and each group's finishing writes
 * off the model's path while the next one runs (sustained throughput).
 */
async function waitingJobs(
  stack: BenchStack,
  env: Record<string, string>,
  count: number,
  slotsTogether?: number,
): Promise<WorkerBatchFigures> {
  const submitAll = () => Promise.all(Array.from({ length: count }, (_, i) => submit(stack, 100 + i)));
  const slots = (n: number) => ({ ...env, OBELM_WORKER_SLOTS: String(n) });
  const alone = await withWorker(stack, slots(1), submitAll, { backlog: true });
  const together = await withWorker(stack, slotsTogether ? slots(slotsTogether) : env, submitAll, {
    backlog: true,
  });
  const [aloneBytes, togetherBytes] = await Promise.all([
    outputBytes(stack, alone.items),
    outputBytes(stack, together.items),
  ]);
  return {
    oneAtATime: alone.run,
    together: together.run,
    ratio: alone.run.wallMs / together.run.wallMs,
    modelSideRatio: alone.run.modelSideMs / together.run.modelSideMs,
    ...(alone.run.steadyJobsPerMinute && together.run.steadyJobsPerMinute
      ? { steadyRatio: together.run.steadyJobsPerMinute / alone.run.steadyJobsPerMinute }
      : {}),
    exact: aloneBytes.every((bytes, i) => bytes.equals(togetherBytes[i]!)),
  };
}

/** Runs `run` REPEATS times, one after another: the run with the median `figure`, and every run in order. */
async function medianOf<T>(
  run: () => Promise<T>,
  figure: (result: T) => number,
): Promise<{ median: T; runs: T[] }> {
  const runs: T[] = [];
  for (let i = 0; i < REPEATS; i++) runs.push(await run());
  const median = [...runs].sort((a, b) => figure(a) - figure(b))[Math.floor(REPEATS / 2)]!;
  return { median, runs };
}

/** Each job's image and noise as downloaded through the API's presigned URLs. */
async function outputBytes(stack: BenchStack, items: readonly JobItem[]): Promise<Buffer[]> {
  return Promise.all(
    items.map(async (item) => {
      const { outputs } = await getJobView(stack, item.id);
      if (!outputs?.image || !outputs.noise) throw new Error(`job ${item.id} has no image or noise`);
      const [image, noise] = await Promise.all([download(outputs.image.url), download(outputs.noise.url)]);
      return Buffer.concat([image, noise]);
    }),
  );
}

const authorized = (stack: BenchStack) => ({
  authorization: `Bearer ${stack.devKey}`,
  'content-type': 'application/json',
});

async function getJobView(stack: BenchStack, id: string): Promise<JobView> {
  const res = await fetch(`${stack.apiUrl}/v1/jobs/${id}`, { headers: authorized(stack) });
  if (!res.ok) throw new Error(`get job ${id}: ${res.status}`);
  return (await res.json()) as JobView;
}

async function submit(stack: BenchStack, n: number): Promise<string> {
  const res = await fetch(`${stack.apiUrl}/v1/jobs`, {
    method: 'POST',
    headers: authorized(stack),
    body: JSON.stringify({
      kind: 'sample',
      prompt: PROMPTS[n % PROMPTS.length],
      seed: 1000 + n,
      steps: STEPS,
      guidance: GUIDANCE,
    }),
  });
  const body = (await res.json()) as { id?: string };
  if (res.status !== 202 || !body.id) throw new Error(`submit: ${res.status} ${JSON.stringify(body)}`);
  return body.id;
}

/** The items once every job has ended; read one at a time, in order, so the bench adds little load. */
async function waitEnded(stack: BenchStack, ids: readonly string[]): Promise<JobItem[]> {
  const deadline = Date.now() + 120_000;
  const items: JobItem[] = [];
  for (const id of ids) {
    for (;;) {
      const { Item } = await stack.clients.db.send(
        new GetCommand({
          TableName: stack.env['OBELM_TABLE'],
          Key: dbKeys.job(id),
          ConsistentRead: true,
        }),
      );
      const item = Item as JobItem | undefined;
      if (item && ['succeeded', 'failed', 'canceled', 'expired'].includes(item.status)) {
        items.push(item);
        break;
      }
      if (Date.now() > deadline) throw new Error(`job ${id} did not end: ${JSON.stringify(item)}`);
      await sleep(100);
    }
  }
  return items;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Linux's clock ticks a second in /proc times (USER_HZ: 100 on x86 and Arm). */
const USER_HZ = 100;

/** A process's user + system CPU time so far (ms), from /proc/<pid>/stat; undefined without it. */
function processCpuMs(pid: number | undefined): number | undefined {
  try {
    // Fields after the command's closing parenthesis: state is 3rd, utime the 14th and stime the 15th of the line.
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / USER_HZ;
  } catch {
    return undefined;
  }
}

const percent = (fraction: number) => `${(fraction * 100).toFixed(1)}%`;

const isScript = process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1];

/** As the stack's child process (startStackProcess): serve the stack. */
if (isScript && process.argv[2] === CHILD_FLAG) {
  await serveStack(process.argv[3]!);
} else if (isScript) {
  // Alone: print the figures.
  const figures = await measureWorkerBusy();
  const rows = [figures.serial, figures.pipelined].map((run) => ({
    slots: run.slots,
    jobs: run.jobs,
    'wall ms': run.wallMs,
    'model ms': run.modelMs,
    'busy to the last end': percent(run.busyFraction),
    'jobs/min': run.jobsPerMinute,
    'eps calls': run.calls,
    'rows/call': run.meanRows,
  }));
  console.table(rows);
  const { batch8 } = figures;
  console.table(
    [batch8.oneAtATime, batch8.together].map((run) => ({
      slots: run.slots,
      jobs: run.jobs,
      'wall ms': run.wallMs,
      'jobs/min': run.jobsPerMinute,
      'eps calls': run.calls,
      'rows/call': run.meanRows,
    })),
  );
  console.log(
    `worker batch-${BATCH_JOBS}, median of ${REPEATS} pairs: ${batch8.ratio.toFixed(2)}x one at a time ` +
      `(${batch8.modelSideRatio.toFixed(2)}x to the last model call), ` +
      `byte-identical outputs: ${batch8.exact ? 'yes' : 'NO'}`,
  );
  // To the model's last call, as npm run bench:scheduler's final line.
  const ok = figures.pipelined.busyWhileJobs >= figures.target;
  console.log(
    `worker busy to the last call, median of ${REPEATS} streams: ${percent(figures.pipelined.busyWhileJobs)} ` +
      `pipelined vs ${percent(figures.serial.busyWhileJobs)} with one slot ` +
      `(target >= ${percent(figures.target)}: ${ok ? 'met' : 'NOT met'})`,
  );
}
