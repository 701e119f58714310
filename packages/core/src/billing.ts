import { z } from 'zod';
import type { JobItem, JobStatus } from './jobs.ts';
import { isTerminal } from './state.ts';

/**
 * What a job costs: the price table (a stage setting), the price a job is accepted at, what its end bills and
 * the usage entry that records it. Money is integer micro-units of the table's currency (1 USD = 1 000 000):
 * no floats ever hold an amount.
 */

export const PriceSchema = z.strictObject({
  /** Per second of GPU time in the model and engine (metered per millisecond, rounded up to a micro-unit). */
  perGpuSecondMicros: z.number().int().min(0),
  /** Per job that succeeds. */
  perJobMicros: z.number().int().min(0),
});
export type Price = z.output<typeof PriceSchema>;

export const PriceTableSchema = z.strictObject({
  currency: z
    .string()
    .regex(/^[A-Z]{3}$/, 'an ISO 4217 code')
    .default('USD'),
  /** The price of a model the table does not name. */
  default: PriceSchema,
  models: z.record(z.string(), PriceSchema).default({}),
});
export type PriceTable = z.output<typeof PriceTableSchema>;

/** Used where a stage sets none (and locally): 0.05 US cents per GPU second, 0.1 cents per succeeded job. */
export const DEFAULT_PRICE_TABLE: PriceTable = {
  currency: 'USD',
  default: { perGpuSecondMicros: 500, perJobMicros: 1000 },
  models: {},
};

/** The price a job is accepted at, kept on its item: a price change never reprices work already accepted. */
export const JobPriceSchema = PriceSchema.extend({
  currency: z.string().describe('ISO 4217 code of the amounts (micro-units: 1 USD = 1 000 000).'),
});
export type JobPrice = z.output<typeof JobPriceSchema>;

export const priceOf = (table: PriceTable, model: string): JobPrice => ({
  currency: table.currency,
  ...(table.models[model] ?? table.default),
});

const FREE: JobPrice = { currency: 'USD', perGpuSecondMicros: 0, perJobMicros: 0 };

/** What a job's end bills, recorded on the item by the terminal transition itself (transitions.ts `end`). */
export interface JobBilling {
  /** GPU milliseconds billed (model and engine time of the work that produced the result). */
  gpuMs: number;
  amountMicros: number;
  currency: string;
  /** The calendar month (UTC, `YYYY-MM`) the job ended in: where its usage counts. */
  month: string;
}

/** `YYYY-MM` of `at`, in UTC. */
export const usageMonth = (at: Date): string => at.toISOString().slice(0, 7);

/** The first instant of the month after `month` (`YYYY-MM`): when a monthly budget resets. */
export function monthEnd(month: string): Date {
  const [year, mon] = month.split('-').map(Number) as [number, number];
  return new Date(Date.UTC(year, mon, 1));
}

/**
 * The GPU time a job's end bills:
 * - succeeded, canceled: the work that led to where it stopped, i.e. the GPU time recorded with the checkpoint
 *   it resumed from (earlier attempts' work up to that checkpoint) plus this attempt's. Work an attempt did after
 *   its last checkpoint before its worker died was redone by a later attempt: the dead attempt's part is ours;
 * - failed (a model error, a lost worker, too many attempts, not enqueued), expired: nothing.
 * `attemptGpuMs` is the ending attempt's own time (0 when no attempt is running, e.g. canceled while queued).
 */
export function billableGpuMs(status: EndStatus, resumedFromGpuMs: number, attemptGpuMs: number): number {
  if (status === 'failed' || status === 'expired') return 0;
  return Math.max(0, Math.round(resumedFromGpuMs + attemptGpuMs));
}

/** The amount of `gpuMs` (an integer) at `price`, plus the job fee when it succeeded; rounded up per job. */
export function billFor(
  price: JobPrice | undefined,
  status: EndStatus,
  gpuMs: number,
  endedAt: Date,
): JobBilling {
  const p = price ?? FREE;
  const ms = Math.max(0, Math.round(gpuMs));
  // ms x micros per second / 1000, rounded up; exact in doubles far past any real job (2^53 / 1e6 ms x 1e6).
  const gpuAmount = Math.ceil((ms * p.perGpuSecondMicros) / 1000);
  return {
    gpuMs: ms,
    amountMicros: gpuAmount + (status === 'succeeded' ? p.perJobMicros : 0),
    currency: p.currency,
    month: usageMonth(endedAt),
  };
}

/**
 * A usage entry (`dbKeys.usageEntry(tenant, month, jobId)`): one per ended job, written from the job's end
 * (store outbox.ts) under a condition that makes a second write impossible. Kept after the job item is deleted.
 */
export interface UsageEntry {
  jobId: string;
  tenant: string;
  model: string;
  kind: JobItem['params']['kind'];
  status: JobStatus;
  /** Sampler steps the job got through (its progress at the end; 0 for one that ended while queued). */
  steps: number;
  gpuMs: number;
  amountMicros: number;
  currency: string;
  month: string;
  endedAt: string;
}

/**
 * The usage entry of an ended job, from the job item alone: what its terminal transition billed (`billing`).
 *
 * Exactly once, without transactions (DynamoDB Local stand-ins have none, and none is needed):
 * - the amount is decided once: it is written by the same conditional update that ends the job (transitions.ts
 *   `end`), and a job ends once (a second end fails its condition on the status), so every later reader of the
 *   item sees the same billing;
 * - the entry is written once: its key is the job id, and the put is conditional on the key being free (store
 *   outbox.ts), so a retried, duplicated or concurrent write fails its condition instead of adding a second;
 * - it is never lost: `outboxPending` stays on the item until the entry is written, and the sweeper relays
 *   whatever a crash left pending.
 * Items from before pricing carry no `billing`: they record a zero entry.
 */
export function usageEntryOf(job: JobItem): UsageEntry {
  if (!isTerminal(job.status)) throw new Error(`job ${job.id}: ${job.status} has not ended`);
  const endedAt = job.finishedAt ?? job.endEvent?.at ?? job.updatedAt;
  const billing =
    job.billing ??
    ({
      gpuMs: 0,
      amountMicros: 0,
      currency: job.price?.currency ?? DEFAULT_PRICE_TABLE.currency,
      month: usageMonth(new Date(endedAt)),
    } satisfies JobBilling);
  return {
    jobId: job.id,
    tenant: job.tenant,
    model: job.params.model,
    kind: job.params.kind,
    status: job.status,
    steps: job.progress?.step ?? 0,
    gpuMs: billing.gpuMs,
    amountMicros: billing.amountMicros,
    currency: billing.currency,
    month: billing.month,
    endedAt,
  };
}

export const UsageQuerySchema = z.strictObject({
  month: z
    .string()
    .regex(/^\d{4}-(0[1-9]|1[0-2])$/, 'YYYY-MM')
    .optional()
    .describe('Calendar month (UTC), YYYY-MM; this month when omitted.'),
});
export type UsageQuery = z.infer<typeof UsageQuerySchema>;

const UsageTotalsSchema = z.strictObject({
  jobs: z.number().int(),
  gpuSeconds: z.number().describe('GPU seconds billed, to the millisecond.'),
  gpuMs: z.number().int(),
  amountMicros: z.number().int().describe('Micro-units of `currency`.'),
});
export type UsageTotals = z.output<typeof UsageTotalsSchema>;

export const UsageSchema = z.strictObject({
  month: z.string(),
  currency: z.string(),
  total: UsageTotalsSchema,
  byModel: z.record(z.string(), UsageTotalsSchema),
  byKind: z.record(z.string(), UsageTotalsSchema),
  byStatus: z.record(z.string(), UsageTotalsSchema),
  /** When the month's budgets reset. */
  resetsAt: z.iso.datetime(),
});
export type Usage = z.output<typeof UsageSchema>;

/** Sums usage entries into totals, in total and by model, kind and status. */
export function summarizeUsage(month: string, currency: string, entries: readonly UsageEntry[]): Usage {
  const zero = (): UsageTotals => ({ jobs: 0, gpuSeconds: 0, gpuMs: 0, amountMicros: 0 });
  const add = (t: UsageTotals, e: UsageEntry) => {
    t.jobs += 1;
    t.gpuMs += e.gpuMs;
    t.gpuSeconds = t.gpuMs / 1000;
    t.amountMicros += e.amountMicros;
  };
  const usage: Usage = {
    month,
    currency,
    total: zero(),
    byModel: {},
    byKind: {},
    byStatus: {},
    resetsAt: monthEnd(month).toISOString(),
  };
  const addTo = (group: Record<string, UsageTotals>, key: string, e: UsageEntry) => {
    group[key] ??= zero();
    add(group[key], e);
  };
  for (const e of entries) {
    add(usage.total, e);
    addTo(usage.byModel, e.model, e);
    addTo(usage.byKind, e.kind, e);
    addTo(usage.byStatus, e.status, e);
  }
  return usage;
}

type EndStatus = Extract<JobStatus, 'succeeded' | 'failed' | 'canceled' | 'expired'>;

/**
 * The billing a terminal transition records for `job`: its accepted price, GPU time as `billableGpuMs` rules.
 * `resumedFromGpuMs`: the GPU time of the checkpoint the ending attempt resumed from (a queued job: the
 * checkpoint it holds); `attemptGpuMs`: the ending attempt's own.
 */
export const endBilling = (
  job: Pick<JobItem, 'price'>,
  status: EndStatus,
  at: Date,
  resumedFromGpuMs = 0,
  attemptGpuMs = 0,
): JobBilling => billFor(job.price, status, billableGpuMs(status, resumedFromGpuMs, attemptGpuMs), at);
