import { readFileSync } from 'node:fs';
import { ROUTE_SPECS, type Usage, UsageQuerySchema, UsageSchema, type UsageTotals } from '@obelm/core';
import type { Command } from './command.ts';
import { CliError, usageError } from './errors.ts';
import { csv, fromMicros, msAsSeconds, table } from './format.ts';
import { print } from './output.ts';
import { runningLocalStack } from './target.ts';

/**
 * `obelm usage`: the caller's usage of a month through the API (`GET /v1/usage`), as a table or CSV. The key and
 * the API are --key/--url, else OBELM_API_KEY/OBELM_API_URL, else the running local stack's dev key and URL.
 */

const USAGE_PATH = ROUTE_SPECS.find((route) => route.handler === 'getUsage')!.path;

export const usageCommand: Command = {
  name: 'usage',
  synopsis: '[--month YYYY-MM] [--csv] [--key <api key>] [--url <api url>]',
  summary: 'jobs, GPU seconds and amount of a month (default: this one), in total, by model and by kind',
  options: {
    month: { type: 'string' },
    csv: { type: 'boolean' },
    key: { type: 'string' },
    url: { type: 'string' },
  },
  run: async (values, positionals) => {
    if (positionals.length) throw usageError(`usage takes no arguments: usage ${usageCommand.synopsis}`);
    const query = UsageQuerySchema.safeParse(values['month'] === undefined ? {} : { month: values['month'] });
    if (!query.success) throw usageError(`--month takes YYYY-MM, not '${values['month']}'`);
    const { apiUrl, key } = apiOf(values);
    const url = new URL(`${apiUrl.replace(/\/+$/, '')}${USAGE_PATH}`);
    if (query.data.month) url.searchParams.set('month', query.data.month);
    const usage = await fetchUsage(url, key);
    print(values['csv'] ? csv(usageRows(usage)) : usageTable(usage));
  },
};

/** The API and the key to call it with: options, then the environment, then the local stack's. */
function apiOf(values: Record<string, unknown>): { apiUrl: string; key: string } {
  const given = (option: string, variable: string) =>
    typeof values[option] === 'string' ? (values[option] as string) : process.env[variable] || undefined;
  const apiUrl = given('url', 'OBELM_API_URL');
  const key = given('key', 'OBELM_API_KEY');
  if (apiUrl && key) return { apiUrl, key };
  const stack = runningLocalStack();
  return {
    apiUrl: apiUrl ?? stack.apiUrl,
    key: key ?? readFileSync(stack.devKeyFile, 'utf8').trim(),
  };
}

async function fetchUsage(url: URL, key: string): Promise<Usage> {
  let res: Response;
  try {
    res = await fetch(url, { headers: { authorization: `Bearer ${key}` } });
  } catch (err) {
    throw new CliError(`cannot reach ${url.origin}: ${(err as Error).message}`);
  }
  const body = (await res.json().catch(() => undefined)) as { error?: { code: string; message: string } };
  if (!res.ok) {
    const error = body?.error;
    throw new CliError(`${res.status} ${error ? `${error.code}: ${error.message}` : res.statusText}`);
  }
  const usage = UsageSchema.safeParse(body);
  if (!usage.success) throw new CliError(`${url} answered something other than usage`);
  return usage.data;
}

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
