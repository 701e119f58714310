import {
  ApiError,
  type JobDispatch,
  monthEnd,
  summarizeUsage,
  type TenantLimits,
  type Usage,
  usageMonth,
} from '@obelm/core';
import { activeCounts, monthUsage } from '@obelm/store';
import type { Deps } from '../deps.ts';

/**
 * Whether a tenant may add a job now, and how it enters (store dispatch.ts): read before anything is written,
 * so a refused request creates nothing and bills nothing.
 */

/** Seconds a caller at its concurrency limit is asked to wait: about what a short job takes to end. */
export const CONCURRENCY_RETRY_AFTER_SECONDS = 5;

export interface Admission {
  /** Sent to the jobs queue at once, or held in the table until one of the tenant's dispatch slots frees. */
  dispatch: JobDispatch;
  /**
   * Held although a slot is free: older held jobs wait (a job just ended and its release is under way, or a
   * crash left it undone). The new job waits its turn behind them and the caller fills the slot (releaseHeld).
   */
  fillFreeSlot: boolean;
}

/**
 * 402 `quota_exceeded` when a monthly budget is spent (the usage entries of jobs that ended this month: jobs
 * still active are not counted yet, so the last jobs admitted may go over by what they cost), 429
 * `concurrency_limit` at `maxActiveJobs` queued or running; else the job's dispatch. Counts are eventually
 * consistent in the cloud (dispatch.ts): a burst may overshoot a limit by the requests in flight.
 */
export async function admitJob(
  deps: Deps,
  tenant: string,
  limits: TenantLimits,
  now: Date,
): Promise<Admission> {
  const month = usageMonth(now);
  const hasBudget = limits.monthlyBudgetMicros !== undefined || limits.monthlyGpuSeconds !== undefined;
  // A tenant without a budget pays no usage Query.
  const [counts, entries] = await Promise.all([
    activeCounts(deps.store, tenant),
    hasBudget ? monthUsage(deps.store, tenant, month) : undefined,
  ]);
  if (entries) assertWithinBudget(limits, summarizeUsage(month, deps.config.OBELM_PRICES.currency, entries));

  if (counts.active >= limits.maxActiveJobs) {
    throw new ApiError(
      429,
      'concurrency_limit',
      `${counts.active} jobs are queued or running; the limit is ${limits.maxActiveJobs}`,
      { limit: limits.maxActiveJobs, active: counts.active },
      { retryAfterSeconds: CONCURRENCY_RETRY_AFTER_SECONDS },
    );
  }
  // Oldest first within a tenant: a new job goes straight to the queue only when none of its tenant waits.
  const slotFree = counts.sent < limits.parallelJobs;
  const nothingHeld = counts.active === counts.sent;
  return { dispatch: slotFree && nothingHeld ? 'sent' : 'held', fillFreeSlot: slotFree && !nothingHeld };
}

function assertWithinBudget(limits: TenantLimits, usage: Usage): void {
  const resetsAt = monthEnd(usage.month).toISOString();
  if (limits.monthlyBudgetMicros !== undefined && usage.total.amountMicros >= limits.monthlyBudgetMicros) {
    throw new ApiError(
      402,
      'quota_exceeded',
      `This month's spend (${usage.total.amountMicros} micro-${usage.currency}) has reached its budget of ${limits.monthlyBudgetMicros}; it resets at ${resetsAt}`,
      {
        what: 'spend',
        used: usage.total.amountMicros,
        limit: limits.monthlyBudgetMicros,
        currency: usage.currency,
        resetsAt,
      },
    );
  }
  if (limits.monthlyGpuSeconds !== undefined && usage.total.gpuSeconds >= limits.monthlyGpuSeconds) {
    throw new ApiError(
      402,
      'quota_exceeded',
      `This month's GPU time (${usage.total.gpuSeconds} s) has reached its budget of ${limits.monthlyGpuSeconds} s; it resets at ${resetsAt}`,
      { what: 'gpuSeconds', used: usage.total.gpuSeconds, limit: limits.monthlyGpuSeconds, resetsAt },
    );
  }
}
