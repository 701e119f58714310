import { describe, expect, it } from 'vitest';
import {
  billableGpuMs,
  billFor,
  DEFAULT_PRICE_TABLE,
  endBilling,
  type JobItem,
  monthEnd,
  type PriceTable,
  PriceTableSchema,
  priceOf,
  summarizeUsage,
  type UsageEntry,
  UsageQuerySchema,
  usageEntryOf,
  usageMonth,
} from '../src/index.ts';

const table: PriceTable = {
  currency: 'EUR',
  default: { perGpuSecondMicros: 500, perJobMicros: 1000 },
  models: { big: { perGpuSecondMicros: 2000, perJobMicros: 0 } },
};
const endedAt = new Date('2026-03-31T23:59:59.999Z');

describe('prices', () => {
  it('name a price per model, the default for the others, in the table currency', () => {
    expect(priceOf(table, 'big')).toEqual({ currency: 'EUR', perGpuSecondMicros: 2000, perJobMicros: 0 });
    expect(priceOf(table, 'demo')).toEqual({ currency: 'EUR', perGpuSecondMicros: 500, perJobMicros: 1000 });
    expect(PriceTableSchema.parse({ default: { perGpuSecondMicros: 1, perJobMicros: 2 } })).toEqual({
      currency: 'USD',
      default: { perGpuSecondMicros: 1, perJobMicros: 2 },
      models: {},
    });
  });

  it('take no fractions of a micro-unit, and no currency that is not a code', () => {
    const bad = { default: { perGpuSecondMicros: 0.5, perJobMicros: 0 } };
    expect(PriceTableSchema.safeParse(bad).success).toBe(false);
    expect(PriceTableSchema.safeParse({ ...DEFAULT_PRICE_TABLE, currency: 'dollars' }).success).toBe(false);
  });
});

describe('what an end bills', () => {
  const price = priceOf(table, 'demo');

  it('bills GPU milliseconds rounded up to a whole micro-unit per job, and the job fee only on success', () => {
    expect(billFor(price, 'succeeded', 1000, endedAt)).toEqual({
      gpuMs: 1000,
      amountMicros: 500 + 1000,
      currency: 'EUR',
      month: '2026-03',
    });
    // 3 ms x 500 micros/s = 1.5 micros: rounded up.
    expect(billFor(price, 'canceled', 3, endedAt).amountMicros).toBe(2);
    expect(billFor(price, 'canceled', 0, endedAt).amountMicros).toBe(0);
    expect(billFor(price, 'succeeded', 0, endedAt).amountMicros).toBe(1000);
    expect(Number.isInteger(billFor(price, 'succeeded', 1234.6, endedAt).gpuMs)).toBe(true);
  });

  it("counts the checkpoint's work and the last attempt's for a success or a cancel; nothing when we failed", () => {
    expect(billableGpuMs('succeeded', 700, 300.4)).toBe(1000);
    expect(billableGpuMs('canceled', 700, 0)).toBe(700);
    expect(billableGpuMs('failed', 700, 300)).toBe(0);
    expect(billableGpuMs('expired', 700, 0)).toBe(0);
    expect(endBilling({ price }, 'failed', endedAt, 700, 300)).toMatchObject({ gpuMs: 0, amountMicros: 0 });
    expect(endBilling({ price }, 'canceled', endedAt, 700, 300)).toMatchObject({
      gpuMs: 1000,
      amountMicros: 500,
    });
    // Items from before pricing carry no price: they are billed nothing.
    expect(endBilling({}, 'succeeded', endedAt, 0, 5000).amountMicros).toBe(0);
  });

  it('counts a job in the UTC month it ended in; a month resets at the next one', () => {
    expect(usageMonth(endedAt)).toBe('2026-03');
    expect(usageMonth(new Date('2026-04-01T00:00:00.000Z'))).toBe('2026-04');
    expect(monthEnd('2026-03').toISOString()).toBe('2026-04-01T00:00:00.000Z');
    expect(monthEnd('2026-12').toISOString()).toBe('2027-01-01T00:00:00.000Z');
    expect(UsageQuerySchema.safeParse({ month: '2026-13' }).success).toBe(false);
    expect(UsageQuerySchema.safeParse({ month: '2026-1' }).success).toBe(false);
  });
});

describe('usage entries', () => {
  const job = (over: Partial<JobItem>): JobItem =>
    ({
      id: 'job_1',
      tenant: 't1',
      status: 'succeeded',
      params: { kind: 'sample', model: 'big', steps: 20 },
      progress: { step: 20, of: 20 },
      finishedAt: endedAt.toISOString(),
      billing: billFor(priceOf(table, 'big'), 'succeeded', 1500, endedAt),
      ...over,
    }) as JobItem;

  it("are built from the job's end alone", () => {
    expect(usageEntryOf(job({}))).toEqual({
      jobId: 'job_1',
      tenant: 't1',
      model: 'big',
      kind: 'sample',
      status: 'succeeded',
      steps: 20,
      gpuMs: 1500,
      amountMicros: 3000,
      currency: 'EUR',
      month: '2026-03',
      endedAt: endedAt.toISOString(),
    } satisfies UsageEntry);
  });

  it('record zero for an end from before pricing, and refuse a job that has not ended', () => {
    const old = usageEntryOf(job({ billing: undefined, progress: undefined }));
    expect(old).toMatchObject({ gpuMs: 0, amountMicros: 0, steps: 0, month: '2026-03' });
    expect(() => usageEntryOf(job({ status: 'running' }))).toThrow(/not ended/);
  });

  it('sum into totals, by model, kind and status', () => {
    const entries = [
      usageEntryOf(job({ id: 'a' })),
      usageEntryOf(job({ id: 'b', params: { kind: 'edit', model: 'demo' } as JobItem['params'] })),
      usageEntryOf(job({ id: 'c', status: 'failed', billing: billFor(undefined, 'failed', 0, endedAt) })),
    ];
    const usage = summarizeUsage('2026-03', 'EUR', entries);
    expect(usage.total).toEqual({ jobs: 3, gpuMs: 3000, gpuSeconds: 3, amountMicros: 6000 });
    expect(usage.byModel).toEqual({
      big: { jobs: 2, gpuMs: 1500, gpuSeconds: 1.5, amountMicros: 3000 },
      demo: { jobs: 1, gpuMs: 1500, gpuSeconds: 1.5, amountMicros: 3000 },
    });
    expect(usage.byKind['edit']?.jobs).toBe(1);
    expect(usage.byStatus['failed']).toEqual({ jobs: 1, gpuMs: 0, gpuSeconds: 0, amountMicros: 0 });
    expect(usage.resetsAt).toBe('2026-04-01T00:00:00.000Z');
    expect(summarizeUsage('2026-02', 'EUR', []).total.jobs).toBe(0);
  });
});
