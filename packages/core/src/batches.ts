import { z } from 'zod';
import type { JobBilling } from './billing.ts';
import { IMAGE_CONTENT_TYPES } from './images.ts';
import { IdSchema, InvertRequestSchema, type JobParams } from './jobs.ts';
import type { JobEndEvent } from './transitions.ts';
import { WebhookDeliverySchema, WebhookSpecSchema } from './webhooks.ts';

/**
 * S3-triggered batch inversion: every object created under a batch's prefix (`s3Keys.batchPrefix`) becomes one
 * `invert` job with the batch's settings, its noise written under `batch-out/`; the batch completes once closed
 * (or its `expectedImages` reached) and every job has ended, with a `summary.json` and one `batch.completed`.
 */

/** The invert settings a batch applies to each of its images: an invert job's request without its inputs. */
export const BatchSettingsSchema = InvertRequestSchema.omit({
  kind: true,
  image: true,
  noise: true,
  output: true,
  webhook: true,
});

export const CreateBatchRequestSchema = BatchSettingsSchema.extend({
  expectedImages: z
    .number()
    .int()
    .min(1)
    .max(100_000)
    .optional()
    .describe('The batch closes by itself once this many images have started jobs.'),
  contentType: z
    .enum(IMAGE_CONTENT_TYPES)
    .optional()
    .describe('Content-Type the upload form requires; any accepted image type when omitted.'),
  webhook: WebhookSpecSchema.optional(),
});
export type CreateBatchRequest = z.infer<typeof CreateBatchRequestSchema>;

export const BATCH_STATUSES = ['open', 'closed', 'completed'] as const;
export type BatchStatus = (typeof BATCH_STATUSES)[number];

/** DynamoDB item of a batch (`dbKeys.batch(batchId)`, listed per tenant through gsi1 `dbKeys.batchByTenant`). */
export interface BatchItem {
  id: string;
  tenant: string;
  status: BatchStatus;
  /** The invert params each image's job gets (resolved like a job's: defaults and model limits applied). */
  params: JobParams;
  expectedImages?: number;
  webhook?: z.output<typeof WebhookSpecSchema>;
  /** The request's `metadata`, given to each of its jobs. */
  metadata?: Record<string, string>;
  /** Objects that started a job so far (one per object version). */
  jobs: number;
  createdAt: string;
  updatedAt: string;
  closedAt?: string;
  completedAt?: string;
  /** Key of summary.json once complete. */
  summary?: string;
  /** Written by the completion itself (the batch's outbox: its webhook), as a job's end writes its own. */
  endEvent?: BatchEndEvent;
  outboxPending?: boolean;
  ttl: number;
}

/** The event a batch's completion records with it (as a job's end records its JobEndEvent). */
export interface BatchEndEvent extends Omit<JobEndEvent, 'type'> {
  type: 'batch.completed';
}

/** The one id of a batch's completion event (the webhook-id of its batch.completed). */
export const batchEndEventId = (batchId: string): string => `evt_${batchId}_completed`;

/** One image's line in summary.json. */
export interface BatchSummaryEntry {
  key: string;
  jobId: string;
  status: string;
  error?: { code: string; message: string };
  noise?: string;
  latentMaxAbsError?: number;
  billing?: JobBilling;
}

/**
 * summary.json (`s3Keys.batchSummary`), written when a batch completes: its images sorted by key (then job id),
 * with their jobs' counts by status. Built only from ended jobs, so rewriting it writes the same bytes.
 */
export interface BatchSummary {
  batchId: string;
  prefix: string;
  counts: Record<string, number>;
  images: BatchSummaryEntry[];
}

export const BatchViewSchema = z.strictObject({
  id: IdSchema,
  status: z.enum(BATCH_STATUSES),
  prefix: z.string().describe('Objects created under this key prefix start one invert job each.'),
  expectedImages: z.number().int().optional(),
  counts: z
    .record(z.string(), z.number().int())
    .describe("The batch's jobs by status (queued, running, succeeded, failed, canceled, expired)."),
  jobs: z.number().int().describe('Images that started a job.'),
  summary: z
    .strictObject({ url: z.url(), expiresAt: z.iso.datetime() })
    .optional()
    .describe('summary.json (per image: key, job id, status, error, noise key), once complete.'),
  webhook: z
    .strictObject({
      url: z.string(),
      events: z.array(z.string()),
      deliveries: z.array(WebhookDeliverySchema),
    })
    .optional(),
  createdAt: z.iso.datetime(),
  closedAt: z.iso.datetime().optional(),
  completedAt: z.iso.datetime().optional(),
});
export type BatchView = z.output<typeof BatchViewSchema>;

export const CreateBatchResponseSchema = z.strictObject({
  id: IdSchema,
  prefix: z.string(),
  upload: z
    .strictObject({
      url: z.url(),
      fields: z.record(z.string(), z.string()),
      maxBytes: z.number().int(),
      expiresAt: z.iso.datetime(),
    })
    .describe(
      'A presigned POST form for keys under `prefix`: set the `key` field to `prefix` + the image name, ' +
        'then the `file` part.',
    ),
  batch: BatchViewSchema,
});
export type CreateBatchResponse = z.output<typeof CreateBatchResponseSchema>;
