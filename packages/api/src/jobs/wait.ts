import { isTerminal, type JobItem } from '@obelm/core';
import type { Deps } from '../deps.ts';
import { getTenantJob } from './store.ts';

/**
 * How often the wait re-reads the job: every tenth of the time waited so far, within these bounds. A short job
 * is seen finished within 25 ms; a long one costs at most two reads a second (strongly consistent reads).
 */
const MIN_RECHECK_MS = 25;
const MAX_RECHECK_MS = 500;
const RECHECK_FRACTION = 0.1;

/**
 * GET /v1/jobs/{id}?wait=: the job once it is terminal, or as it is when `waitMs` runs out. DynamoDB cannot
 * notify a reader, so the wait re-reads the item on a backoff schedule; the client saves its own polling.
 */
export async function waitForJob(
  deps: Deps,
  tenant: string,
  jobId: string,
  waitMs: number,
): Promise<JobItem> {
  const start = Date.now();
  const deadline = start + waitMs;
  let job = await getTenantJob(deps, tenant, jobId);
  for (;;) {
    const now = Date.now();
    if (isTerminal(job.status) || now >= deadline) return job;
    const recheckMs = Math.min(Math.max((now - start) * RECHECK_FRACTION, MIN_RECHECK_MS), MAX_RECHECK_MS);
    await new Promise((resolve) => setTimeout(resolve, Math.min(recheckMs, deadline - now)));
    job = await getTenantJob(deps, tenant, jobId);
  }
}
