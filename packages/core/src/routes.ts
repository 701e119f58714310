import { z } from 'zod';
import {
  CreateUploadRequestSchema,
  GetJobQuerySchema,
  JobListSchema,
  JobViewSchema,
  ListJobsQuerySchema,
  UploadResponseSchema,
} from './api.ts';
import { UsageQuerySchema, UsageSchema } from './billing.ts';
import type { ApiErrorCode } from './errorCatalog.ts';
import { CreateJobRequestSchema } from './jobs.ts';
import { ModelListSchema } from './models.ts';

/**
 * The Lambda handlers behind HTTP routes. Each name is a file, packages/api/src/handlers/<name>.ts, that
 * exports a wrapped `handler`; the API package serves, and infra deploys, exactly these.
 */
export const HTTP_HANDLERS = [
  'createJob',
  'getJob',
  'listJobs',
  'cancelJob',
  'createUpload',
  'openapi',
  'listModels',
  'deleteJob',
  'getUsage',
] as const;
export type HandlerName = (typeof HTTP_HANDLERS)[number];

/** Lambda handlers run on a schedule, not behind a route (same file convention). */
export const SCHEDULED_HANDLERS = ['sweeper'] as const;
export type ScheduledHandlerName = (typeof SCHEDULED_HANDLERS)[number];

/** Every Lambda handler the cloud deploys. */
export type LambdaHandlerName = HandlerName | ScheduledHandlerName;

/** What the API offers, independent of how it is served: the OpenAPI document, the local router and infra read it. */
export interface RouteSpec {
  method: 'GET' | 'POST' | 'DELETE';
  /** API Gateway path syntax: `/v1/jobs/{id}`. */
  path: string;
  /** The handler serving it; also the route's OpenAPI operationId. */
  handler: HandlerName;
  auth: boolean;
  summary: string;
  body?: z.ZodType;
  query?: z.ZodType;
  status: number;
  response: z.ZodType;
  /** Error codes this route may answer with, beyond the common ones (errorCatalog.ts: COMMON_API_ERRORS). */
  errors: ApiErrorCode[];
}

/** `METHOD /path`, as API Gateway's routeKey. */
export const routeKey = (spec: Pick<RouteSpec, 'method' | 'path'>) => `${spec.method} ${spec.path}`;

export const ROUTE_SPECS: readonly RouteSpec[] = [
  {
    method: 'POST',
    path: '/v1/jobs',
    handler: 'createJob',
    auth: true,
    summary:
      'Create a job (invert, sample, edit, reconstruct, interpolate). Honours an Idempotency-Key header.',
    body: CreateJobRequestSchema,
    status: 202,
    response: JobViewSchema,
    errors: [
      'malformed_json',
      'unknown_field',
      'invalid_request',
      'unknown_model',
      'steps_out_of_range',
      'guidance_out_of_range',
      'missing_image',
      'conflicting_inputs',
      'invalid_image',
      'image_too_large',
      'unknown_upload',
      'upload_pending',
      'unknown_noise',
      'noise_not_ready',
      'incompatible_noise',
      'invalid_idempotency_key',
      'idempotency_conflict',
      'idempotency_in_progress',
      'payload_too_large',
      'queue_unavailable',
      'concurrency_limit',
      'quota_exceeded',
    ],
  },
  {
    method: 'GET',
    path: '/v1/jobs',
    handler: 'listJobs',
    auth: true,
    summary: "List the caller's jobs, newest first.",
    query: ListJobsQuerySchema,
    status: 200,
    response: JobListSchema,
    errors: ['unknown_field', 'invalid_request', 'invalid_cursor'],
  },
  {
    method: 'GET',
    path: '/v1/jobs/{id}',
    handler: 'getJob',
    auth: true,
    summary:
      'Get a job: status, progress, metrics and fresh presigned URLs of its outputs. With `wait`, a long-poll ' +
      'that answers as soon as the job is finished.',
    query: GetJobQuerySchema,
    status: 200,
    response: JobViewSchema,
    errors: ['malformed_path', 'job_not_found', 'unknown_field', 'invalid_request'],
  },
  {
    method: 'POST',
    path: '/v1/jobs/{id}/cancel',
    handler: 'cancelJob',
    auth: true,
    summary: 'Cancel a job: queued jobs at once, running jobs at their next step.',
    status: 200,
    response: JobViewSchema,
    errors: ['malformed_path', 'job_not_found', 'job_finished', 'job_busy'],
  },
  {
    method: 'DELETE',
    path: '/v1/jobs/{id}',
    handler: 'deleteJob',
    auth: true,
    summary:
      "Delete an ended job's inputs, outputs and checkpoints now, before the stage's retention would. The job " +
      'stays as a tombstone (status, params, billing) and its usage entry is kept.',
    status: 200,
    response: JobViewSchema,
    errors: ['malformed_path', 'job_not_found', 'job_active'],
  },
  {
    method: 'GET',
    path: '/v1/usage',
    handler: 'getUsage',
    auth: true,
    summary:
      "The caller's usage in a calendar month (UTC): jobs, GPU seconds and amount billed, in total and by model, " +
      'kind and status.',
    query: UsageQuerySchema,
    status: 200,
    response: UsageSchema,
    errors: ['unknown_field', 'invalid_request'],
  },
  {
    method: 'POST',
    path: '/v1/uploads',
    handler: 'createUpload',
    auth: true,
    summary: 'Get a presigned POST form to upload one image, then name its uploadId in a job.',
    body: CreateUploadRequestSchema,
    status: 201,
    response: UploadResponseSchema,
    errors: ['malformed_json', 'unknown_field', 'invalid_request', 'payload_too_large'],
  },
  {
    method: 'GET',
    path: '/v1/models',
    handler: 'listModels',
    auth: true,
    summary: 'The models the caller may use, with their limits and defaults.',
    status: 200,
    response: ModelListSchema,
    errors: [],
  },
  {
    method: 'GET',
    path: '/v1/openapi.json',
    handler: 'openapi',
    auth: false,
    summary: 'This document.',
    status: 200,
    response: z.object({ openapi: z.string(), paths: z.record(z.string(), z.unknown()) }).loose(),
    errors: [],
  },
];
