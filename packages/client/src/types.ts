import type { components, operations } from './schema.ts';

/**
 * Friendly names for the generated request and response types (schema.ts, from the API's OpenAPI document),
 * so callers never spell out `operations[...]['responses'][200]...`.
 */

type JsonOf<R> = R extends { content: { 'application/json': infer T } } ? T : never;
type RequestJsonOf<O> = O extends { requestBody?: infer B } ? JsonOf<NonNullable<B>> : never;
type QueryOf<O> = O extends { parameters: { query?: infer Q } } ? NonNullable<Q> : never;

/** A job as GET /v1/jobs/{id} shows it: status, progress, params, output links. */
export type Job = JsonOf<operations['getJob']['responses'][200]>;
export type JobStatus = Job['status'];
export type JobKind = Job['kind'];
export type JobProgress = NonNullable<Job['progress']>;
/** The body of POST /v1/jobs, one shape per job kind. */
export type CreateJobRequest = RequestJsonOf<operations['createJob']>;
/** One page of GET /v1/jobs. */
export type JobPage = JsonOf<operations['listJobs']['responses'][200]>;
export type ListJobsQuery = QueryOf<operations['listJobs']>;
export type Usage = JsonOf<operations['getUsage']['responses'][200]>;
export type UsageQuery = QueryOf<operations['getUsage']>;
export type ModelList = JsonOf<operations['listModels']['responses'][200]>;
/** The presigned POST form of POST /v1/uploads. */
export type UploadForm = JsonOf<operations['createUpload']['responses'][201]>;
export type UploadContentType = NonNullable<
  NonNullable<RequestJsonOf<operations['createUpload']>>['contentType']
>;
export type CreateBatchRequest = RequestJsonOf<operations['createBatch']>;
/** What POST /v1/batches answers: the batch and how to upload into it. */
export type CreatedBatch = JsonOf<operations['createBatch']['responses'][201]>;
export type Batch = JsonOf<operations['getBatch']['responses'][200]>;
/** The body of every 4xx/5xx answer. */
export type ApiErrorBody = components['schemas']['Error'];

/** The statuses after which a job never changes again. */
export const TERMINAL_STATUSES: readonly JobStatus[] = ['succeeded', 'failed', 'canceled', 'expired'];
export const isTerminal = (status: JobStatus): boolean => TERMINAL_STATUSES.includes(status);
