import { z } from 'zod';
import { IMAGE_CONTENT_TYPES } from './images.ts';
import {
  IdSchema,
  JOB_KINDS,
  JOB_STATUSES,
  JobErrorSchema,
  JobMetricsSchema,
  JobParamsSchema,
  JobProgressSchema,
} from './jobs.ts';
import { WEBHOOK_EVENTS, WebhookDeliverySchema } from './webhooks.ts';

/**
 * Schemas of the API's other requests and responses (job creation is in jobs.ts), plus the DynamoDB items the
 * API owns. The response schemas exist for the OpenAPI document; the handlers build the same shapes.
 */

export const CreateUploadRequestSchema = z.strictObject({
  contentType: z.enum(IMAGE_CONTENT_TYPES).default('image/png').describe('Content-Type the form must send.'),
});
export type CreateUploadRequest = z.infer<typeof CreateUploadRequestSchema>;

export const UploadResponseSchema = z.object({
  uploadId: IdSchema,
  url: z.url().describe('POST a multipart/form-data form here: every `fields` entry, then the `file` part.'),
  fields: z.record(z.string(), z.string()),
  maxBytes: z.number().int(),
  expiresAt: z.iso.datetime(),
});
export type UploadResponse = z.infer<typeof UploadResponseSchema>;

export const ListJobsQuerySchema = z.strictObject({
  status: z.enum(JOB_STATUSES).optional(),
  batch: IdSchema.optional().describe("Only this batch's jobs."),
  limit: z.coerce.number().int().min(1).max(100).default(20),
  cursor: z.string().max(2048).optional().describe('The `nextCursor` of the previous page.'),
});
export type ListJobsQuery = z.infer<typeof ListJobsQuerySchema>;

/** Longest `?wait=` of GET /v1/jobs/{id}, in seconds (as SQS caps its long polls). */
export const MAX_JOB_WAIT_SECONDS = 20;

export const GetJobQuerySchema = z.strictObject({
  wait: z.coerce
    .number()
    .min(0)
    .max(MAX_JOB_WAIT_SECONDS)
    .optional()
    .describe(
      'Long-poll: answer as soon as the job is finished (succeeded, failed, canceled, expired), or after this many ' +
        'seconds (0 to 20, fractions allowed) with its current state. The server may answer earlier than the ' +
        'wait when its own time limit is near; call again while the job is not finished.',
    ),
});
export type GetJobQuery = z.infer<typeof GetJobQuerySchema>;

export const ErrorBodySchema = z
  .object({
    error: z.object({
      code: z.string().describe('Stable machine-readable code, e.g. `invalid_request`.'),
      message: z.string(),
      details: z
        .union([z.record(z.string(), z.unknown()), z.array(z.unknown())])
        .describe(
          'What was wrong: the field or the values at fault (`invalid_request`: the list of issues).',
        ),
    }),
  })
  .describe('Every 4xx/5xx response.');

/** A presigned output link as the API returns it. */
export const OutputLinkSchema = z.strictObject({ url: z.url(), expiresAt: z.iso.datetime() });
export type OutputLink = z.output<typeof OutputLinkSchema>;

/** A reconstruct job's error heatmap: its link and the scale its colours span (jobs.ts `ERROR_MAP_SCALE`). */
export const ErrorMapLinkSchema = OutputLinkSchema.extend({
  scale: z
    .strictObject({
      min: z.number().describe('The error of the darkest colour (an exact zero is darkest too).'),
      max: z.number().describe('The error of the brightest colour.'),
    })
    .describe('The colours run on a log10 scale from `min` to `max`, clamped at both ends.'),
}).describe(
  "Reconstruct jobs: a PNG at the latent's resolution of max over channels of |x_0' - x_0| at each position " +
    '(the demo model is pixel space: its latent is the image), the map of `metrics.latentMaxAbsError`.',
);
export type ErrorMapLink = z.output<typeof ErrorMapLinkSchema>;

/**
 * The public view of a job (GET /v1/jobs/{id}): the one definition of that contract, for the OpenAPI document
 * and, through `JobView`, for the handler that builds it. Strict, so a test can prove the handler adds nothing.
 */
export const JobViewSchema = z.strictObject({
  id: IdSchema,
  kind: z.enum(JOB_KINDS),
  status: z.enum(JOB_STATUSES),
  model: z.string(),
  params: JobParamsSchema,
  progress: JobProgressSchema.optional(),
  queue: z
    .strictObject({
      position: z
        .number()
        .int()
        .min(1)
        .describe(
          "1-based place among your own queued jobs, in the order workers take them (other tenants' jobs are " +
            'not counted: each tenant has its own dispatch slots). An estimate: counts read a moment ago.',
        ),
      estimatedStartAt: z.iso
        .datetime()
        .optional()
        .describe(
          "An estimate of when a worker takes the job, from the model's recent measured time per step and the " +
            'jobs ahead of it; absent while no recent job of the model has been measured. Not a promise.',
        ),
    })
    .optional()
    .describe('Queued jobs (GET /v1/jobs/{id}): where the job stands. Estimates only.'),
  estimatedFinishAt: z.iso
    .datetime()
    .optional()
    .describe(
      'Running jobs (GET /v1/jobs/{id}): an estimate of when the job ends, from its own measured pace (time per ' +
        "step since it started running) or, before its first progress, its model's recent pace. Not a promise.",
    ),
  outputs: z
    .strictObject({
      image: OutputLinkSchema.optional(),
      images: z.array(OutputLinkSchema).optional(),
      noise: OutputLinkSchema.optional(),
      report: OutputLinkSchema.optional(),
      errorMap: ErrorMapLinkSchema.optional(),
    })
    .optional(),
  metrics: JobMetricsSchema.optional(),
  error: JobErrorSchema.optional(),
  metadata: z.record(z.string(), z.string()).optional(),
  cancelRequested: z
    .boolean()
    .optional()
    .describe("Set while a cancel of a running job waits for the worker's next progress write."),
  billing: z
    .strictObject({
      gpuMs: z.number().int().describe('GPU milliseconds billed.'),
      amountMicros: z.number().int().describe('Micro-units of `currency` (1 USD = 1 000 000).'),
      currency: z.string(),
    })
    .optional()
    .describe('What the job was billed, once it has ended (docs/billing.md).'),
  createdAt: z.iso.datetime(),
  startedAt: z.iso.datetime().optional(),
  finishedAt: z.iso.datetime().optional(),
  outputsExpireAt: z.iso
    .datetime()
    .optional()
    .describe("When the stage's retention deletes the job's inputs and outputs (an ended job)."),
  deletedAt: z.iso.datetime().optional().describe("When the caller deleted the job's data."),
  webhook: z
    .strictObject({
      url: z.string(),
      events: z.array(z.enum(WEBHOOK_EVENTS)),
      delivery: WebhookDeliverySchema.optional().describe(
        "The delivery of the job's end event once it has ended: its attempts (time, status, latency).",
      ),
    })
    .optional(),
  batchId: IdSchema.optional().describe('The batch that started the job.'),
});
export type JobView = z.output<typeof JobViewSchema>;

export const JobListSchema = z.strictObject({
  jobs: z.array(JobViewSchema),
  nextCursor: z.string().optional().describe('Pass as `cursor` to get the next page; absent on the last.'),
});

/** DynamoDB item of an upload slot (`dbKeys.upload(uploadId)`). */
export interface UploadItem {
  uploadId: string;
  tenant: string;
  key: string;
  contentType: string;
  maxBytes: number;
  createdAt: string;
  /** When the presigned POST stops working. */
  expiresAt: string;
  ttl: number;
}

/** DynamoDB item of an Idempotency-Key (`dbKeys.idempotency(tenant, key)`). */
export interface IdempotencyItem {
  jobId: string;
  requestHash: string;
  createdAt: string;
  ttl: number;
}
