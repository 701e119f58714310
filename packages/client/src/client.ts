import createClient, { type Client } from 'openapi-fetch';
import { ObelmApiError } from './errors.ts';
import {
  type GetJobFn,
  type ListPageFn,
  listJobPages,
  listJobs,
  type WaitForJobOptions,
  waitForJob,
} from './jobs.ts';
import { type FetchLike, type RetryOptions, retryingFetch } from './retry.ts';
import type { paths } from './schema.ts';
import type {
  Batch,
  CreateBatchRequest,
  CreatedBatch,
  CreateJobRequest,
  Job,
  JobPage,
  ListJobsQuery,
  ModelList,
  Usage,
  UsageQuery,
} from './types.ts';
import {
  contentTypeOf,
  downloadBytes,
  postUploadForm,
  toBlob,
  type UploadInput,
  type UploadOptions,
} from './uploads.ts';

export interface ObelmClientOptions {
  /** The API's root, e.g. `http://127.0.0.1:8787` (the paths start with /v1). */
  baseUrl: string;
  apiKey: string;
  /** The fetch to send requests with (tests, proxies); globalThis.fetch by default. */
  fetch?: FetchLike;
  /** Retries on 429/503 and network errors (tuning, or `{ attempts: 1 }` for none). */
  retry?: RetryOptions;
}

/** Per-call options every method takes. */
export interface CallOptions {
  signal?: AbortSignal;
}

export interface CreateJobOptions extends CallOptions {
  /** Sent as Idempotency-Key; a fresh random one by default, so the create's retries never make two jobs. */
  idempotencyKey?: string;
}

/** The typed obelm client: see createObelmClient. */
export interface ObelmClient {
  /** Creates a job (202: queued); an Idempotency-Key is sent with it. */
  createJob(request: CreateJobRequest, options?: CreateJobOptions): Promise<Job>;
  /** A job now, or with `wait` (seconds, at most 20) once finished or after the wait. */
  getJob(id: string, options?: CallOptions & { wait?: number }): Promise<Job>;
  /** Long-polls until the job has finished; see WaitForJobOptions. */
  waitForJob(id: string, options?: WaitForJobOptions): Promise<Job>;
  /** Every job matching `query`, fetching pages (of `query.limit`) as iterated. */
  listJobs(query?: ListJobsQuery): AsyncIterable<Job>;
  /** The same, page by page (each with its `nextCursor`). */
  listJobPages(query?: ListJobsQuery): AsyncIterable<JobPage>;
  cancelJob(id: string, options?: CallOptions): Promise<Job>;
  /** Deletes an ended job's data (it stays as a tombstone). */
  deleteJob(id: string, options?: CallOptions): Promise<Job>;
  /** Uploads an image (path, bytes or Blob) through a presigned form; returns the uploadId jobs name. */
  uploadFile(input: UploadInput, options?: UploadOptions): Promise<string>;
  /** The bytes at an output link (`job.outputs.image.url`...). */
  download(url: string, options?: CallOptions): Promise<Uint8Array>;
  usage(query?: UsageQuery, options?: CallOptions): Promise<Usage>;
  models(options?: CallOptions): Promise<ModelList>;
  batches: {
    create(request: CreateBatchRequest, options?: CallOptions): Promise<CreatedBatch>;
    get(id: string, options?: CallOptions): Promise<Batch>;
    close(id: string, options?: CallOptions): Promise<Batch>;
  };
  /** The underlying openapi-fetch client (API key and retries included), for routes without a method here. */
  api: Client<paths>;
}

/** openapi-fetch's result: the data, or the error body with the response. */
type Result<T> = { data?: T; error?: unknown; response: Response };

/** The data of a successful call; an error answer becomes ObelmApiError. */
async function unwrap<T>(call: Promise<Result<T>>): Promise<T> {
  const { data, error, response } = await call;
  if (!response.ok) throw ObelmApiError.from(response, error);
  return data as T;
}

/**
 * A client of the obelm API at `baseUrl` with `apiKey`: typed from the API's OpenAPI document, retrying 429s and
 * 503s (honouring Retry-After) and idempotent calls' network errors, and throwing ObelmApiError with the API's
 * `code`, `message` and `details` on any error answer.
 */
export function createObelmClient(options: ObelmClientOptions): ObelmClient {
  const baseFetch: FetchLike = options.fetch ?? ((request) => globalThis.fetch(request));
  const fetchWithRetry = retryingFetch(baseFetch, options.retry);
  const api = createClient<paths>({
    baseUrl: options.baseUrl.replace(/\/+$/, ''),
    fetch: fetchWithRetry,
    headers: { authorization: `Bearer ${options.apiKey}` },
  });
  const byId = (id: string) => ({ path: { id } });

  const getJob = (id: string, { wait, signal }: CallOptions & { wait?: number } = {}) =>
    unwrap(
      api.GET('/v1/jobs/{id}', {
        params: { ...byId(id), ...(wait === undefined ? {} : { query: { wait } }) },
        signal,
      }),
    );
  const pollJob: GetJobFn = (id, wait, signal) => getJob(id, { wait, ...(signal ? { signal } : {}) });
  const listPage: ListPageFn = (query) => unwrap(api.GET('/v1/jobs', { params: { query } }));

  return {
    createJob: (request, { idempotencyKey = globalThis.crypto.randomUUID(), signal } = {}) =>
      unwrap(
        api.POST('/v1/jobs', {
          params: { header: { 'Idempotency-Key': idempotencyKey } },
          body: request,
          signal,
        }),
      ),
    getJob,
    waitForJob: (id, waitOptions) => waitForJob(pollJob, id, waitOptions),
    listJobs: (query) => listJobs(listPage, query),
    listJobPages: (query) => listJobPages(listPage, query),
    cancelJob: (id, { signal } = {}) =>
      unwrap(api.POST('/v1/jobs/{id}/cancel', { params: byId(id), signal })),
    deleteJob: (id, { signal } = {}) => unwrap(api.DELETE('/v1/jobs/{id}', { params: byId(id), signal })),
    uploadFile: async (input, { contentType, signal } = {}) => {
      const blob = await toBlob(input);
      const type = await contentTypeOf(blob, contentType);
      const form = await unwrap(api.POST('/v1/uploads', { body: { contentType: type }, signal }));
      await postUploadForm(fetchWithRetry, form, blob, type, signal);
      return form.uploadId;
    },
    download: (url, { signal } = {}) => downloadBytes(fetchWithRetry, url, signal),
    usage: (query, { signal } = {}) =>
      unwrap(api.GET('/v1/usage', { params: query ? { query } : {}, signal })),
    // openapi-fetch widens the tuple `imageSize` to number[]; the generated type is the exact one.
    models: ({ signal } = {}) => unwrap(api.GET('/v1/models', { signal })) as Promise<ModelList>,
    batches: {
      create: (request, { signal } = {}) => unwrap(api.POST('/v1/batches', { body: request, signal })),
      get: (id, { signal } = {}) => unwrap(api.GET('/v1/batches/{id}', { params: byId(id), signal })),
      close: (id, { signal } = {}) =>
        unwrap(api.POST('/v1/batches/{id}/close', { params: byId(id), signal })),
    },
    api,
  };
}
