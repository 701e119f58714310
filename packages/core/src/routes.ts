import { z } from 'zod';
import {
  CreateUploadRequestSchema,
  GetJobQuerySchema,
  JobListSchema,
  JobViewSchema,
  ListJobsQuerySchema,
  UploadResponseSchema,
} from './api.ts';
import { BatchViewSchema, CreateBatchRequestSchema, CreateBatchResponseSchema } from './batches.ts';
import { UsageQuerySchema, UsageSchema } from './billing.ts';
import type { ApiErrorCode } from './errorCatalog.ts';
import { CreateJobRequestSchema } from './jobs.ts';
import { ModelListSchema } from './models.ts';
import { WebhookSecretResponseSchema } from './webhooks.ts';

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
  'getWebhookSecret',
  'rotateWebhookSecret',
  'redeliverWebhook',
  'createBatch',
  'getBatch',
  'closeBatch',
] as const;
export type HandlerName = (typeof HTTP_HANDLERS)[number];

/** Lambda handlers run on a schedule, not behind a route (same file convention). */
export const SCHEDULED_HANDLERS = ['sweeper'] as const;
export type ScheduledHandlerName = (typeof SCHEDULED_HANDLERS)[number];

/**
 * Lambda handlers fed by an SQS queue (middy, partial batch failures): the webhook dispatcher (webhooks queue)
 * and the batch trigger (the bucket's ObjectCreated notifications under batch/, through the batch queue).
 * Locally, the stack polls the same queues and invokes the same handlers with SQS events.
 */
export const QUEUE_HANDLERS = ['webhookDispatcher', 'batchTrigger'] as const;
export type QueueHandlerName = (typeof QUEUE_HANDLERS)[number];

/** Every Lambda handler the cloud deploys. */
export type LambdaHandlerName = HandlerName | ScheduledHandlerName | QueueHandlerName;

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
      'invalid_webhook',
    ],
  },
  {
    method: 'GET',
    path: '/v1/jobs',
    handler: 'listJobs',
    auth: true,
    summary: "List the caller's jobs, newest first; with `batch`, that batch's jobs (in job-id order).",
    query: ListJobsQuerySchema,
    status: 200,
    response: JobListSchema,
    errors: ['unknown_field', 'invalid_request', 'invalid_cursor', 'batch_not_found'],
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
    path: '/v1/jobs/{id}/webhook/redeliver',
    handler: 'redeliverWebhook',
    auth: true,
    summary: "Send the job's end event to its webhook again (same webhook-id), with a fresh retry schedule.",
    status: 202,
    response: JobViewSchema,
    errors: ['malformed_path', 'job_not_found', 'no_webhook_event'],
  },
  {
    method: 'GET',
    path: '/v1/webhooks/secret',
    handler: 'getWebhookSecret',
    auth: true,
    summary:
      "The tenant's webhook signing secret (whsec_...), created on first use; after a rotation, the old one too.",
    status: 200,
    response: WebhookSecretResponseSchema,
    errors: [],
  },
  {
    method: 'POST',
    path: '/v1/webhooks/secret/rotate',
    handler: 'rotateWebhookSecret',
    auth: true,
    summary: 'Replace the signing secret; the old one keeps signing (both signatures sent) for 24 hours.',
    status: 200,
    response: WebhookSecretResponseSchema,
    errors: [],
  },
  {
    method: 'POST',
    path: '/v1/batches',
    handler: 'createBatch',
    auth: true,
    summary:
      'Create a batch: every image uploaded under its prefix (the presigned POST form, or S3 directly) becomes ' +
      'one invert job with these settings; outputs under batch-out/, then summary.json and batch.completed.',
    body: CreateBatchRequestSchema,
    status: 201,
    response: CreateBatchResponseSchema,
    errors: [
      'malformed_json',
      'unknown_field',
      'invalid_request',
      'unknown_model',
      'steps_out_of_range',
      'guidance_out_of_range',
      'invalid_webhook',
      'payload_too_large',
    ],
  },
  {
    method: 'GET',
    path: '/v1/batches/{id}',
    handler: 'getBatch',
    auth: true,
    summary: 'A batch: its jobs by status, and once complete a presigned link to summary.json.',
    status: 200,
    response: BatchViewSchema,
    errors: ['malformed_path', 'batch_not_found'],
  },
  {
    method: 'POST',
    path: '/v1/batches/{id}/close',
    handler: 'closeBatch',
    auth: true,
    summary: 'Close a batch: no new images; it completes once every job has ended.',
    status: 200,
    response: BatchViewSchema,
    errors: ['malformed_path', 'batch_not_found', 'batch_closed'],
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
