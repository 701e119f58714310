/**
 * Scheduler benchmark (issue 14), all figures from one run, printed side by side: the pipeline level (the engine on
 * a model batcher, no service around it) and the worker path (workerBusy.ts: a worker with the same stub model,
 * against a local stack in its own process).
 * - 8 concurrent compatible 20-step sample jobs (CFG g = 2: 2 rows per eps call) through the engine pipeline on
 *   members of one ModelBatcher, against the same 8 jobs one at a time on the model directly; the model is the
 *   stub GPU model (the demo model's eps, each call taking 15 + 1 * rows ms of wall time), so the ratio is what a
 *   GPU with that economics would give;
 * - whether every job's outputs (PNG bytes, pixels, final noise state) are byte-identical to its solo run, in
 *   'batched' and in 'padded' mode;
 * - 16 such jobs at once: more rows than one call holds, so two cohorts take turns on the model, each computing
 *   its steps while the other's call runs (the model's busy fraction shows whether the host work is hidden);
 * - the host's work between two model calls of 8 jobs (hostWork.ts), for the demo's latents and SD's: what one
 *   cohort leaves the device idle for;
 * - the bitwise batch-invariance check of the demo and tiny SD models on this machine's CPU provider, and of the
 *   demo's epsRows at mixed timesteps (what lets a worker merge the calls of jobs at different steps).
 * - from the worker path: the busy fraction of its model over a stream of jobs (one slot, and the default slots:
 *   three streams, the median one shown, every stream's figure beside it), and the same 8 jobs submitted at once
 *   to a worker with 8 slots and to one with 1, outputs downloaded and compared byte for byte (three such pairs,
 *   the median pair's figures shown, every pair's ratios beside them), and where each of those two runs spends its
 *   time (before the first model call, in calls, between them, after the last: the scheduler has the model only
 *   in the middle two);
 * - from the worker path too: 40 jobs waiting, 8 slots against 1, the rate at which jobs end once the first 8
 *   have ended (a full worker's throughput, each group's writes overlapping the next group's calls), and the CPU a
 *   job takes in the worker's process and in the stack's (what this machine's cores carry besides the stub).
 * Ends with `scheduler: busy <worker stream, default slots>%, batch-8 <worker path>x, exact: <every byte check>`.
 * A missed target is printed, not an exit code: benches report, they do not gate.
 * Run: npm run bench:scheduler
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { type DiffusionModel, type SampleResult, sample, stateArrays } from '@obelm/engine';
import { encodeImage, loadBundle } from '@obelm/models';
import { writeTinySdBundle } from '@obelm/models/testing';
import { type BatchMode, checkBatchInvariance, createModelBatcher } from '@obelm/worker/batching';
import { DEFAULT_STUB_GPU_COST, stubGpuModel } from '@obelm/worker/testing';
import { measureHostWork } from './hostWork.ts';
import { BATCH_JOBS, measureWorkerBusy, type WorkerBatchFigures, type WorkerBusyRun } from './workerBusy.ts';

const JOBS = 8;
/** Two cohorts of JOBS: more rows than one call holds, so two calls take turns on the model. */
const TWO_COHORTS = 2 * JOBS;
const STEPS = 20;
/** CFG on: each job's eps call has 2 rows, as with an SD job. */
const GUIDANCE = 2;
/** Room for all 8 jobs' rows in one call. */
const MAX_BATCH_ROWS = 16;
const INVARIANCE_SIZES = Array.from({ length: MAX_BATCH_ROWS }, (_, i) => i + 1);
/** The target for 8 concurrent jobs over one at a time. */
const TARGET_RATIO = 4;
const PROMPTS = ['red circle', 'blue square', 'green triangle', 'yellow circle'];

/** The whole bench, both parts: a hang is an error (the worker part's stack process is killed at exit). */
const DEADLINE_MS = 300_000;
const deadline = setTimeout(() => {
  console.error(`bench: hard deadline (${DEADLINE_MS / 1000} s) reached`);
  process.exit(1);
}, DEADLINE_MS);

interface Job {
  readonly seed: number;
  readonly prompt: string;
}
const jobs: Job[] = Array.from({ length: TWO_COHORTS }, (_, i) => ({
  seed: 100 + i,
  prompt: PROMPTS[i % PROMPTS.length]!,
}));
const run = (model: DiffusionModel, job: Job) => sample(model, { ...job, steps: STEPS, guidance: GUIDANCE });

/** The bytes a job leaves behind: its PNG, its pixels and its final noise state. */
async function outputBytes(result: SampleResult): Promise<Buffer> {
  const arrays = stateArrays(result.state);
  const png = await encodeImage(result.image, 'png');
  return Buffer.concat([
    png,
    ...[result.image.data, ...arrays].map((a) => Buffer.from(a.buffer, a.byteOffset, a.byteLength)),
  ]);
}

const dataDir = mkdtempSync(join(tmpdir(), 'obelm-bench-scheduler-'));
try {
  const demo = await loadBundle('demo', { provider: 'cpu', cacheDir: join(dataDir, 'models') });
  const stub = stubGpuModel(demo);
  // Warm-up, so neither side pays for JIT or onnxruntime's first runs: a job alone and two through a batcher.
  await run(demo, jobs[0]!);
  const warmUp = createModelBatcher(demo, { maxBatchRows: MAX_BATCH_ROWS, mode: 'batched' });
  await Promise.all(jobs.slice(0, 2).map((job) => run(warmUp.join().model, job)));

  // One at a time, each job alone on the model: the reference bytes and the baseline time (of the first 8, and of
  // all 16).
  const solo: Buffer[] = [];
  let soloMs = 0;
  let soloAllMs = 0;
  const soloBusyBefore = stub.busyMs();
  for (const [i, job] of jobs.entries()) {
    const start = performance.now();
    const result = await run(stub, job);
    const ms = performance.now() - start;
    soloAllMs += ms;
    if (i < JOBS) soloMs += ms;
    solo.push(await outputBytes(result)); // off the clock, as in the runs together
  }
  const soloBusy = (stub.busyMs() - soloBusyBefore) / soloAllMs;

  /** The first `count` jobs at once, each on its own member of one batcher. */
  async function together(mode: BatchMode, count = JOBS) {
    // As a worker on this CPU runs it: mixed-timestep merging in 'batched' mode (the demo has epsRows).
    const batcher = createModelBatcher(stub, {
      maxBatchRows: MAX_BATCH_ROWS,
      mode,
      mixedTimesteps: mode === 'batched',
    });
    const busyBefore = stub.busyMs();
    const start = performance.now();
    const results = await Promise.all(
      jobs.slice(0, count).map(async (job) => {
        const member = batcher.join();
        try {
          return await run(member.model, job);
        } finally {
          member.leave();
        }
      }),
    );
    const wallMs = performance.now() - start;
    const busy = (stub.busyMs() - busyBefore) / wallMs;
    const bytes = await Promise.all(results.map(outputBytes));
    const exact = bytes.every((b, i) => b.equals(solo[i]!));
    const { calls, realRows, paddingRows } = batcher.stats();
    return { mode, wallMs, busy, exact, calls, realRows, paddingRows };
  }
  const batched = await together('batched');
  const padded = await together('padded');
  const cohorts = await together('batched', TWO_COHORTS);

  const demoInvariance = await checkBatchInvariance(demo, INVARIANCE_SIZES, { prompts: ['', ...PROMPTS] });
  const sdDir = join(dataDir, 'tiny-sd');
  await writeTinySdBundle(sdDir);
  const tinySd = await loadBundle(sdDir, { provider: 'cpu' });
  const sdInvariance = await checkBatchInvariance(tinySd, INVARIANCE_SIZES, { prompts: ['', 'a photo'] });
  const hostWork = await measureHostWork(demo);
  await Promise.all([tinySd.close(), demo.close()]);

  // The worker path, after the pipeline level's figures (the two must not share the CPU).
  const worker = await measureWorkerBusy();
  const { batch8, sustained, steady } = worker;

  const { fixedMs, perRowMs } = DEFAULT_STUB_GPU_COST;
  const jobsPerMin = (ms: number) => ((JOBS * 60_000) / ms).toFixed(0);
  const pipelineRatio = soloMs / batched.wallMs;
  const percent = (fraction: number) => `${(100 * fraction).toFixed(1)} %`;
  const sizes = (passed: readonly number[]) =>
    passed.length === INVARIANCE_SIZES.length
      ? `all of 1..${MAX_BATCH_ROWS}`
      : `only ${passed.join(',') || 'none'}`;
  const workerRun = (run: WorkerBusyRun) => `${run.wallMs} ms, ${run.jobsPerMinute} jobs/min`;
  const cpuText = ({ cpuMsPerJob: { worker, stack } }: WorkerBusyRun) => `${worker} / ${stack ?? '?'} ms`;
  const workerRows = (run: WorkerBusyRun) => `${run.calls}, ${run.meanRows} rows each`;
  /** Where a run's wall time went, first claim to last end: the scheduler has the model only between its calls. */
  const timeline = (run: WorkerBusyRun) =>
    [run.startMs, run.modelMs, run.modelSideMs - run.startMs - run.modelMs, run.tailMs]
      .map((ms) => ms.toFixed(0))
      .join(' / ');
  const exactText = (exact: boolean) => (exact ? 'yes, all 8' : 'NO');
  /** Lowest to highest of a ratio over a scenario's pairs. */
  const spread = (figures: WorkerBatchFigures, ratio: 'ratio' | 'modelSideRatio') => {
    const ratios = (figures.pairs ?? [figures]).map((pair) => pair[ratio]);
    return `${Math.min(...ratios).toFixed(2)}-${Math.max(...ratios).toFixed(2)}x`;
  };
  /** Figure, pipeline level, worker path ('' where a side does not measure it). */
  const rows: [string, string, string][] = [
    ['', 'pipeline level (engine + batcher)', 'worker path (local stack + worker)'],
    ['stub GPU model', `demo eps, ${fixedMs} + ${perRowMs} * rows ms a call`, 'the same'],
    [
      'jobs',
      `${JOBS} x sample, ${STEPS} steps, g = ${GUIDANCE} (2 rows a call)`,
      'the same, through the API; first claim to last end',
    ],
    [
      '8 one at a time',
      `${soloMs.toFixed(0)} ms, ${jobsPerMin(soloMs)} jobs/min`,
      `${workerRun(batch8.oneAtATime)} (1 slot)`,
    ],
    ['  model busy', percent(soloBusy), percent(batch8.oneAtATime.busyFraction)],
    [
      '8 at once (batched)',
      `${batched.wallMs.toFixed(0)} ms, ${jobsPerMin(batched.wallMs)} jobs/min`,
      `${workerRun(batch8.together)} (${batch8.together.slots} slots)`,
    ],
    [
      '  batch-8 ratio',
      `${pipelineRatio.toFixed(2)}x`,
      `${batch8.modelSideRatio.toFixed(2)}x to the model's last call (${batch8.together.modelSideMs} vs ${batch8.oneAtATime.modelSideMs} ms); ${batch8.ratio.toFixed(2)}x to the last end`,
    ],
    [
      `  the ${batch8.pairs?.length ?? 1} side-by-side pairs (median above)`,
      '',
      `${spread(batch8, 'modelSideRatio')} to the model's last call, ${spread(batch8, 'ratio')} to the last end`,
    ],
    [
      '  model calls',
      `${batched.calls}, ${(batched.realRows / batched.calls).toFixed(1)} rows each`,
      workerRows(batch8.together),
    ],
    ['  model busy', percent(batched.busy), percent(batch8.together.busyFraction)],
    [
      '  ms before the first call / in calls / between calls / after the last',
      '',
      `${timeline(batch8.together)} (1 slot: ${timeline(batch8.oneAtATime)})`,
    ],
    [
      '  byte-identical to one at a time',
      exactText(batched.exact),
      `${exactText(batch8.exact)} (downloaded)`,
    ],
    [
      '8 at once (padded)',
      `${padded.wallMs.toFixed(0)} ms, ${(soloMs / padded.wallMs).toFixed(2)}x, ${(padded.realRows / padded.calls).toFixed(1)} real + ${(padded.paddingRows / padded.calls).toFixed(1)} padding rows a call`,
      '',
    ],
    ['  byte-identical to one at a time', exactText(padded.exact), ''],
    [
      `${TWO_COHORTS} at once (two cohorts)`,
      `${cohorts.wallMs.toFixed(0)} ms, ${(soloAllMs / cohorts.wallMs).toFixed(2)}x one at a time`,
      '',
    ],
    ['  model calls', `${cohorts.calls}, ${(cohorts.realRows / cohorts.calls).toFixed(1)} rows each`, ''],
    ['  model busy', percent(cohorts.busy), ''],
    ['  byte-identical to one at a time', cohorts.exact ? `yes, all ${TWO_COHORTS}` : 'NO', ''],
    [
      `${sustained.together.jobs} waiting, ${sustained.together.slots} slots vs 1`,
      '',
      `${workerRun(sustained.together)} vs ${workerRun(sustained.oneAtATime)}: ${sustained.ratio.toFixed(2)}x to the last end, ${sustained.modelSideRatio.toFixed(2)}x to the model's last call`,
    ],
    ['  model calls', '', workerRows(sustained.together)],
    ['  byte-identical to one at a time', '', `${sustained.exact ? 'yes, all' : 'NO'} (downloaded)`],
    [
      `${steady.together.jobs} waiting, ${steady.together.slots} slots vs 1`,
      '',
      `${workerRun(steady.together)} vs ${workerRun(steady.oneAtATime)}: ${steady.ratio.toFixed(2)}x to the last end`,
    ],
    [
      `  steady, once ${BATCH_JOBS} have ended`,
      '',
      `${steady.together.steadyJobsPerMinute} vs ${steady.oneAtATime.steadyJobsPerMinute} jobs/min: ${steady.steadyRatio?.toFixed(2)}x`,
    ],
    [
      '  CPU a job, worker process / stack process',
      '',
      `${cpuText(steady.together)} (8 slots), ${cpuText(steady.oneAtATime)} (1 slot); this machine has ${availableParallelism()} cores`,
    ],
    ['  byte-identical to one at a time', '', `${steady.exact ? 'yes, all' : 'NO'} (downloaded)`],
  ];
  for (const run of [worker.serial, worker.pipelined]) {
    rows.push(
      [`stream of ${run.jobs} jobs, ${run.slots} slot${run.slots === 1 ? '' : 's'}`, '', workerRun(run)],
      [
        '  model busy',
        '',
        `${percent(run.busyWhileJobs)} to its last call, ${percent(run.busyFraction)} to the last end; ${workerRows(run)}`,
      ],
    );
  }
  const busyRuns = worker.pipelinedBusy;
  rows.push([
    `  the ${busyRuns.length} streams of ${worker.pipelined.jobs} (median above)`,
    '',
    `${percent(Math.min(...busyRuns))}-${percent(Math.max(...busyRuns))} to the last call`,
  ]);
  for (const { name, msPerCall } of hostWork)
    rows.push([`host work between two calls of 8 jobs, ${name}`, `${msPerCall.toFixed(2)} ms`, '']);
  rows.push(
    ['batch-invariant, demo (cpu)', sizes(demoInvariance.passed), ''],
    ['  at mixed timesteps (epsRows)', sizes(demoInvariance.mixedTimesteps?.passed ?? []), ''],
    ['batch-invariant, tiny SD (cpu)', sizes(sdInvariance.passed), ''],
  );
  const widths = [0, 1].map((c) => Math.max(...rows.map((row) => row[c]!.length)));
  for (const [figure, pipeline, workerPath] of rows)
    console.log(`${figure.padEnd(widths[0]!)}  ${pipeline.padEnd(widths[1]!)}  ${workerPath}`.trimEnd());

  // Targets are reported, not enforced.
  // The worker path's targets on the model's side (first claim to its last call): what the scheduler decides. To the
  // last end they also carry the last jobs' finishing writes, which nothing follows to overlap (printed above).
  const missed = [
    ...(worker.pipelined.busyWhileJobs < worker.target
      ? [`worker busy below ${percent(worker.target)}`]
      : []),
    ...(batch8.modelSideRatio < TARGET_RATIO ? [`worker batch-8 below ${TARGET_RATIO}x`] : []),
    ...(pipelineRatio < TARGET_RATIO ? [`pipeline batch-8 below ${TARGET_RATIO}x`] : []),
  ];
  if (missed.length > 0) console.log(`(targets missed: ${missed.join('; ')})`);
  const exact =
    batched.exact && padded.exact && cohorts.exact && batch8.exact && sustained.exact && steady.exact;
  console.log(
    `scheduler: busy ${(100 * worker.pipelined.busyWhileJobs).toFixed(1)}%, batch-8 ${batch8.modelSideRatio.toFixed(2)}x, exact: ${exact ? 'yes' : 'no'}`,
  );
} finally {
  clearTimeout(deadline);
  rmSync(dataDir, { recursive: true, force: true });
}
