import { ObelmApiError, ObelmNetworkError, ObelmTimeoutError } from './errors.ts';
import { backoffMs, sleep } from './retry.ts';
import { isTerminal, type Job, type JobPage, type ListJobsQuery } from './types.ts';

/** Longest `?wait=` the API takes on GET /v1/jobs/{id}, in seconds. */
export const MAX_WAIT_SECONDS = 20;
/** Consecutive failed polls waitForJob rides out (beyond the fetch's own retries) before it gives up. */
const MAX_POLL_FAILURES = 8;

export interface WaitForJobOptions {
  /** Called with the job whenever its status or progress (step of steps) changes, the first state seen included. */
  onProgress?: (job: Job) => void;
  /** Stops waiting: the promise rejects with the signal's reason. */
  signal?: AbortSignal;
  /** Rejects with ObelmTimeoutError when the job has not finished by then. Default: no limit. */
  timeoutMs?: number;
  /** With onProgress, how long each long-poll waits (progress is seen at least this often). Default 1 s. */
  progressEverySeconds?: number;
}

/** Fetches a job, long-polling up to `waitSeconds`. */
export type GetJobFn = (id: string, waitSeconds: number, signal?: AbortSignal) => Promise<Job>;

/** Worth polling again: the service was busy or briefly unreachable, not a wrong request. */
const isTransient = (err: unknown): boolean =>
  err instanceof ObelmNetworkError ||
  (err instanceof ObelmApiError && (err.status === 429 || err.status >= 500));

const progressKey = (job: Job) => `${job.status}:${job.progress?.step ?? ''}/${job.progress?.of ?? ''}`;

/**
 * Long-polls a job until it finishes (succeeded, failed, canceled or expired) and returns its final state; a
 * failed job is returned, not thrown, so the caller can read its `error`. Transient failures (429, 5xx,
 * network) are waited out with backoff; other API errors (404...) are thrown.
 */
export async function waitForJob(
  getJob: GetJobFn,
  id: string,
  options: WaitForJobOptions = {},
): Promise<Job> {
  const { onProgress, signal, timeoutMs } = options;
  const deadline = timeoutMs === undefined ? Number.POSITIVE_INFINITY : Date.now() + timeoutMs;
  const pollSeconds = onProgress ? (options.progressEverySeconds ?? 1) : MAX_WAIT_SECONDS;
  let lastKey: string | undefined;
  let failures = 0;
  for (;;) {
    signal?.throwIfAborted();
    const remainingSeconds = (deadline - Date.now()) / 1000;
    if (remainingSeconds <= 0) throw new ObelmTimeoutError(id, timeoutMs ?? 0);
    const wait = Math.round(Math.min(pollSeconds, MAX_WAIT_SECONDS, remainingSeconds) * 10) / 10;
    let job: Job;
    try {
      job = await getJob(id, wait, signal);
      failures = 0;
    } catch (err) {
      if (signal?.aborted) throw signal.reason;
      if (!isTransient(err) || ++failures > MAX_POLL_FAILURES) throw err;
      await sleep(backoffMs(failures, { attempts: 0, baseMs: 500, maxMs: 10_000 }), signal);
      continue;
    }
    const key = progressKey(job);
    if (onProgress && key !== lastKey) onProgress(job);
    lastKey = key;
    if (isTerminal(job.status)) return job;
  }
}

/** Fetches one page of jobs. */
export type ListPageFn = (query: ListJobsQuery) => Promise<JobPage>;

/** Every page of GET /v1/jobs matching `query`, following `nextCursor` until the last. */
export async function* listJobPages(
  listPage: ListPageFn,
  query: ListJobsQuery = {},
): AsyncGenerator<JobPage> {
  let cursor = query.cursor;
  do {
    const page = await listPage({ ...query, ...(cursor === undefined ? {} : { cursor }) });
    yield page;
    cursor = page.nextCursor;
  } while (cursor !== undefined);
}

/** Every job matching `query`, newest first (a batch's: in id order), fetched a page at a time as iterated. */
export async function* listJobs(listPage: ListPageFn, query: ListJobsQuery = {}): AsyncGenerator<Job> {
  for await (const page of listJobPages(listPage, query)) yield* page.jobs;
}
