import type { Usage, UsageTotals } from '@obelm/core';
import { API_OPTIONS, API_SYNOPSIS, clientOf } from './api.ts';
import type { Command } from './command.ts';
import { usageError } from './errors.ts';
import { csv, fromMicros, msAsSeconds, table } from './format.ts';
import { print } from './output.ts';

/**
 * `obelm usage`: the caller's usage of a month through the API (`GET /v1/usage`), as a table or CSV. The key and
 * the API are --key/--url, else OBELM_API_KEY/OBELM_API_URL, else the running local stack's dev key and URL.
 */

export const usageCommand: Command = {
  name: 'usage',
  synopsis: `[--month YYYY-MM] [--csv] ${API_SYNOPSIS}`,
  summary: 'jobs, GPU seconds and amount of a month (default: this one), in total, by model and by kind',
  options: {
    month: { type: 'string' },
    csv: { type: 'boolean' },
    ...API_OPTIONS,
  },
  run: async (values, positionals) => {
    if (positionals.length) throw usageError(`usage takes no arguments: usage ${usageCommand.synopsis}`);
    // Loaded here, not at start: the other commands never need the schemas.
    const { UsageQuerySchema } = await import('@obelm/core');
    const query = UsageQuerySchema.safeParse(values['month'] === undefined ? {} : { month: values['month'] });
    if (!query.success) throw usageError(`--month takes YYYY-MM, not '${values['month']}'`);
    const usage: Usage = await (await clientOf(values)).usage(
      query.data.month ? { month: query.data.month } : undefined,
    );
    print(values['csv'] ? csv(usageRows(usage)) : usageTable(usage));
  },
};

/** One row per total: the month's, each model's, each kind's. */
function groups(usage: Usage): [scope: string, name: string, totals: UsageTotals][] {
  return [
    ['total', '', usage.total],
    ...Object.entries(usage.byModel).map(([name, t]): [string, string, UsageTotals] => ['model', name, t]),
    ...Object.entries(usage.byKind).map(([name, t]): [string, string, UsageTotals] => ['kind', name, t]),
  ];
}

/** CSV: scope, name, jobs, GPU seconds and amount in units of the currency (exact decimals). */
export const usageRows = (usage: Usage): string[][] => [
  ['month', 'scope', 'name', 'jobs', 'gpu_seconds', 'amount', 'currency'],
  ...groups(usage).map(([scope, name, t]) => [
    usage.month,
    scope,
    name,
    String(t.jobs),
    msAsSeconds(t.gpuMs),
    fromMicros(t.amountMicros),
    usage.currency,
  ]),
];

export function usageTable(usage: Usage): string {
  const head = `usage of ${usage.month} (UTC), in ${usage.currency}; monthly budgets reset at ${usage.resetsAt}`;
  const rows = [
    ['', '', 'JOBS', 'GPU SECONDS', `AMOUNT (${usage.currency})`],
    ...groups(usage).map(([scope, name, t]) => [
      scope,
      name,
      String(t.jobs),
      msAsSeconds(t.gpuMs),
      fromMicros(t.amountMicros),
    ]),
  ];
  return `${head}\n\n${table(rows, [2, 3, 4])}`;
}
