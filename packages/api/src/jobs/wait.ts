import { isTerminal, type JobItem } from '@obelm/core';
import type { Deps } from '../deps.ts';
import { estimateJob, type JobEstimate } from './eta.ts';
import { getTenantJob } from './store.ts';

/**
 * When the wait re-reads the job. DynamoDB cannot notify a reader, so the wait re-reads the item; instead of a
 * blind backoff it reads on the job's own schedule (eta.ts): a queued job's estimated start plus run, a running
 * one's measured pace times its steps left.
 * - Before the expected end, it sleeps 3/4 of the time left, at most MAX_SLEEP_MS once the job's own pace is
 *   measured (running, with a progress write), else at most BACKOFF_MAX_MS: a queued job's start and a model's
 *   recent pace are rough (batched jobs share calls, lanes are guessed), and a job that ends before its estimate
 *   must not be seen later than the blind backoff would have seen it. Each read refines the estimate, and an
 *   unexpected end (a failure, a cancel) is seen within that cap. Once the time left is under half the cap, it
 *   reads at the expected end.
 * - Past the expected end (the finishing writes: encode, S3, the final update, or a run slower than its
 *   estimate), it reads every tenth of the run so far, within [MIN_RECHECK_MS, FINE_MS]: a job is seen within
 *   max(25 ms, min(250 ms, 10 % of its run)) of its end; 10 % keeps a short job's extra latency in proportion,
 *   250 ms caps what a long one adds, and a late job is not read ever more often.
 * - Without an estimate (no recent job of the model measured yet), the old backoff: a tenth of the time waited.
 * A job that ends on time costs about log4(wait / 250 ms) + 2 reads instead of one per backoff step.
 */
const MIN_RECHECK_MS = 25;
const FINE_MS = 250;
const MAX_SLEEP_MS = 2000;
const BACKOFF_MAX_MS = 500;
const FRACTION = 0.1;

/** The job once it is terminal, or as it is when `waitMs` runs out, with its last estimate if not terminal. */
export interface WaitedJob {
  job: JobItem;
  estimate?: JobEstimate;
}

/**
 * GET /v1/jobs/{id}?wait=: the job once it is terminal, or as it is when `waitMs` runs out; the client saves its
 * own polling.
 */
export async function waitForJob(
  deps: Deps,
  tenant: string,
  jobId: string,
  waitMs: number,
): Promise<WaitedJob> {
  const start = Date.now();
  const deadline = start + waitMs;
  for (;;) {
    const job = await getTenantJob(deps, tenant, jobId);
    if (isTerminal(job.status)) return { job };
    const estimate = await estimateJob(deps, job);
    const now = Date.now();
    if (now >= deadline) return { job, estimate };
    const cap = job.status === 'running' && job.progressAt ? MAX_SLEEP_MS : BACKOFF_MAX_MS;
    const sleepMs = nextReadInMs(estimate, now, now - start, cap);
    await new Promise((resolve) => setTimeout(resolve, Math.min(sleepMs, deadline - now)));
  }
}

/** How long to sleep before the next read (module doc), given the estimate and how long the wait has run. */
export function nextReadInMs(
  estimate: JobEstimate,
  now: number,
  waitedMs: number,
  capMs = MAX_SLEEP_MS,
): number {
  const { endMs, startMs } = estimate;
  if (endMs === undefined || startMs === undefined) {
    return clamp(waitedMs * FRACTION, MIN_RECHECK_MS, BACKOFF_MAX_MS);
  }
  const left = endMs - now;
  // Within half the longest sleep, straight to the end: an unexpected end is still seen within the cap.
  if (left > capMs / 2) return Math.min(left * 0.75, capMs);
  if (left >= MIN_RECHECK_MS) return left;
  // Late: a tenth of the run so far, so a job that runs long is not read ever more often.
  return clamp((now - startMs) * FRACTION, MIN_RECHECK_MS, FINE_MS);
}

const clamp = (x: number, lo: number, hi: number) => Math.min(Math.max(x, lo), hi);
