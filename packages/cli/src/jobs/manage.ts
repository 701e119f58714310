import type { Job, JobStatus, ObelmClient } from '@obelm/client';
import { API_OPTIONS, API_SYNOPSIS, clientOf } from '../api.ts';
import { type Command, oneArgument } from '../command.ts';
import { usageError } from '../errors.ts';
import { table } from '../format.ts';
import { print, printJson } from '../output.ts';
import { integerOption, stringOption } from './options.ts';

/**
 * `obelm jobs list|get|cancel|delete`: the caller's jobs through the API, as a table or (--json) as the API's job
 * views.
 */

const STATUSES: readonly JobStatus[] = ['queued', 'running', 'succeeded', 'failed', 'canceled', 'expired'];
const JSON_API = { json: { type: 'boolean' }, ...API_OPTIONS } as const;

/** One job in a line of the table: what it is, where it is, and what went wrong if anything. */
const row = (job: Job): string[] => [
  job.id,
  job.kind,
  job.status,
  job.progress ? `${job.progress.step}/${job.progress.of}` : '',
  job.model,
  job.createdAt,
  job.error ? `${job.error.code}: ${job.error.message}` : '',
];

const jobsTable = (jobs: Job[]) =>
  table([['ID', 'KIND', 'STATUS', 'STEPS', 'MODEL', 'CREATED', 'ERROR'], ...jobs.map(row)], [3]);

/** Prints one job: the API's view with --json, else its table line and its output links. */
function printJob(job: Job, json: boolean): void {
  if (json) {
    printJson(job);
    return;
  }
  const links = Object.entries(job.outputs ?? {}).flatMap(([name, value]) =>
    (Array.isArray(value) ? value : [value]).map((link) => `${name}: ${link.url}`),
  );
  print([jobsTable([job]), ...links].join('\n'));
}

const list: Command = {
  name: 'list',
  synopsis: `[--status <status>] [--limit <n>] [--json] ${API_SYNOPSIS}`,
  summary: 'the newest jobs (default 20), with their status and progress',
  options: { ...JSON_API, status: { type: 'string' }, limit: { type: 'string' } },
  run: async (values, positionals) => {
    if (positionals.length) throw usageError(`jobs list takes no arguments: jobs list ${list.synopsis}`);
    const status = stringOption(values, 'status');
    if (status !== undefined && !STATUSES.includes(status as JobStatus)) {
      throw usageError(`--status takes one of ${STATUSES.join(', ')}, not '${status}'`);
    }
    const limit = integerOption(values, 'limit') ?? 20;
    if (limit < 1) throw usageError('--limit takes a whole number of at least 1');
    const jobs: Job[] = [];
    const query = { limit: Math.min(limit, 100), ...(status ? { status: status as JobStatus } : {}) };
    for await (const job of (await clientOf(values)).listJobs(query)) {
      jobs.push(job);
      if (jobs.length >= limit) break;
    }
    if (values['json']) return printJson(jobs);
    print(jobs.length ? jobsTable(jobs) : 'no jobs');
  },
};

/** A command on one job by its id: fetch, cancel or delete, then print it. */
const onOneJob = (
  name: string,
  summary: string,
  act: (client: ObelmClient, id: string) => Promise<Job>,
): Command => {
  const command: Command = {
    name,
    synopsis: `<job id> [--json] ${API_SYNOPSIS}`,
    summary,
    options: JSON_API,
    run: async (values, positionals) => {
      const id = oneArgument({ name: `jobs ${name}`, synopsis: command.synopsis }, positionals);
      printJob(await act(await clientOf(values), id), values['json'] === true);
    },
  };
  return command;
};

export const MANAGE_COMMANDS: readonly Command[] = [
  list,
  onOneJob('get', 'a job: status, progress, error and output links', (client, id) => client.getJob(id)),
  onOneJob('cancel', 'cancels a queued or running job', (client, id) => client.cancelJob(id)),
  onOneJob(
    'delete',
    "deletes an ended job's inputs and outputs (the job stays, marked deleted)",
    (client, id) => client.deleteJob(id),
  ),
];
