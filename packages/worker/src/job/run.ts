import {
  classify,
  describeError,
  endBilling,
  type JobItem,
  type JobMetrics,
  jobTransitions,
} from '@obelm/core';
import type { DiffusionModel } from '@obelm/engine';
import { relayEndOrLog } from '@obelm/store';
import { batchedModel } from '../bundles/batchedModel.ts';
import { meterModel } from '../bundles/meteredModel.ts';
import { hardwareOf } from '../hardware.ts';
import { offPathTurn } from '../offPathTurns.ts';
import type { JobLease } from '../queue/lease.ts';
import type { ReceivedMessage } from '../queue/queue.ts';
import { checkpointRunningJob, deleteJobCheckpoints, loadCheckpoint } from './checkpoint.ts';
import { type ExecuteDeps, type JobOutcome, ttlFromNow } from './context.ts';
import { loadInputs } from './inputs.ts';
import type { SlotTicket } from './modelSlots.ts';
import { writeOutputs, writeReport } from './outputs.ts';
import { measuredExactness, noiseHardwareMetrics } from './provenance.ts';
import type { RunTrace } from './trace.ts';

/**
 * The happy path of a claimed job: model and inputs (and the checkpoint it resumes from) prefetched, then, in a
 * model slot, the pipeline as a member of the model's batcher with progress on every step and a checkpoint every
 * OBELM_CHECKPOINT_SECONDS of model time; then, the slot given to the next job, outputs and report.json in S3,
 * the `succeed` transition and the message deleted. Whatever stops it early throws; `trace` keeps what was done
 * for the caller to settle the job with.
 */
export async function runToEnd(
  deps: ExecuteDeps,
  job: JobItem,
  message: ReceivedMessage,
  lease: JobLease,
  trace: RunTrace,
  slot: SlotTicket,
): Promise<JobOutcome> {
  const { blobs } = deps;
  trace.checkpoint = job.checkpoint;
  // Until the run knows whether it can resume, a stop (a cancel) pays for the work the checkpoint holds, as a
  // cancel of the queued job would have.
  trace.resumedGpuMs = job.checkpoint?.gpuMs ?? 0;
  const model = await deps.models.get(job.params.model);
  const batched = await batchedModel(model, deps.maxBatchRows, deps.log);
  const hardware = await hardwareOf(model);
  const loadStart = performance.now();
  const inputs = await loadInputs(blobs, job.inputs, model, lease.signal);
  const resume = await resumePoint(deps, job, model);
  // A run that resumes carries the GPU time of the work its checkpoint holds; one that starts over, none.
  trace.resumedGpuMs = resume ? (job.checkpoint?.gpuMs ?? 0) : 0;
  const loadMs = performance.now() - loadStart;

  // Prefetched: wait for a model slot (a stop or cancel meanwhile hands the job back as it is).
  const slotWaitStart = performance.now();
  await slot.enter(lease.signal);
  const slotWaitMs = performance.now() - slotWaitStart;
  const runStart = performance.now();
  const member = batched.batcher.join();
  let result: Awaited<ReturnType<typeof deps.runner>>;
  try {
    const metered = meterModel(member, lease.signal);
    trace.start(metered);
    result = await deps.runner({
      params: job.params,
      model: metered.model,
      hardware,
      inputs,
      signal: lease.signal,
      resume,
      onStep: async (step) => {
        trace.step(step);
        lease.progress(step.step, step.total);
        if (trace.checkpointDue(deps.checkpointSeconds * 1000))
          await checkpointRunningJob(deps, job, trace, lease);
        if (deps.stepDelayMs > 0) await sleep(deps.stepDelayMs);
        trace.resume();
      },
    });
  } finally {
    // Whatever the outcome, the batcher stops waiting for this job and its slot goes to the next one; the rest
    // (encoding, writes, final update, delete) is off the model's path.
    member.leave();
    slot.leave();
  }
  const computeMs = performance.now() - runStart;
  // The jobs that shared this job's last call come back from it in the same turn: they start the next call
  // first, and their finishing takes one event-loop turn each, so the next call's answer is not held behind all
  // of them (offPathTurns.ts).
  await offPathTurn();

  const metrics: JobMetrics = {
    queueMs: job.startedAt ? Date.parse(job.startedAt) - Date.parse(job.createdAt) : undefined,
    runMs: Math.round(performance.now() - trace.claimedAt),
    gpuMs: Math.round(trace.modelMs()),
    ...result.metrics,
    ...noiseHardwareMetrics(inputs, hardware),
  };
  // The report does not depend on the outputs' writes, so all of them go to S3 at once.
  const [outputs, report] = await Promise.all([
    writeOutputs(blobs, job, result),
    writeReport(blobs, job, {
      jobId: job.id,
      kind: job.params.kind,
      model: job.params.model,
      workerId: deps.workerId,
      attempt: job.attempts,
      params: job.params,
      settings: result.settings,
      ...(resume && job.checkpoint
        ? { resumedFrom: { stage: job.checkpoint.stage, step: job.checkpoint.step } }
        : {}),
      metrics,
      hardware,
      // Exactness is reported only where this run measured it; an empty list claims none.
      measured: measuredExactness(metrics),
      timings: {
        loadMs: round(loadMs),
        slotWaitMs: round(slotWaitMs),
        computeMs: round(computeMs),
        modelMs: round(trace.modelMs()),
      },
      // The mode in force (and whether jobs at other steps may share its calls), and the calls this job's rows
      // shared with other jobs' (how many, how full, how many at mixed timesteps).
      batching: {
        mode: member.mode,
        mixedTimesteps: member.mixedTimesteps,
        maxBatchRows: batched.maxBatchRows,
        ...member.stats(),
      },
      steps: trace.steps.map((s) => ({ ...s, ms: round(s.ms), modelMs: round(s.modelMs) })),
    }),
  ]);
  outputs.report = report;
  metrics.runMs = Math.round(performance.now() - trace.claimedAt);

  const last = trace.lastStep;
  const now = new Date();
  const finished = await deps.jobs.apply(
    jobTransitions.succeed(job.id, deps.workerId, now, {
      outputs,
      metrics,
      ...(last ? { progress: { step: last.total, of: last.total } } : {}),
      ttl: ttlFromNow(deps.endedKeepSeconds),
      billing: endBilling(job, 'succeeded', now, trace.resumedGpuMs, trace.modelMs()),
    }),
  );
  if (!finished) {
    // Canceled or taken over while the outputs were being written: the item says what happened.
    deps.log.warn('job changed hands before it could finish');
    return 'lost';
  }
  try {
    await deps.queue.delete(message);
  } catch (error) {
    // The job has ended; its message, when it comes back, is settled as already done.
    deps.log.warn('finished job message not deleted', describeError(error));
  }
  await deleteJobCheckpoints(blobs, job, trace, deps.log);
  // What follows the end (its usage entry, the tenant's next held job), once the job's own cleanup is done.
  await relayEndOrLog(deps.store, finished, deps.log);
  return 'succeeded';
}

const round = (ms: number) => Math.round(ms * 100) / 100;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Where the run resumes: the job's checkpoint, or the start when it has none or it cannot be used (made under
 * another bundle behind the same id, or its objects are gone). Runs are deterministic, so starting over gives the
 * same bytes; only a passing fault is thrown, to retry the job later.
 */
async function resumePoint(deps: ExecuteDeps, job: JobItem, model: DiffusionModel) {
  if (!job.checkpoint) return undefined;
  try {
    return await loadCheckpoint(deps.blobs, model, job, job.checkpoint);
  } catch (error) {
    if (classify(error).kind === 'transient') throw error;
    deps.log.warn('checkpoint unusable; the job starts over', describeError(error));
    return undefined;
  }
}
