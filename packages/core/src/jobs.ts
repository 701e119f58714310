import { z } from 'zod';
import type { JobBilling, JobPrice } from './billing.ts';
import type { JobEndEvent } from './transitions.ts';
import { type WebhookSpec, WebhookSpecSchema } from './webhooks.ts';

/**
 * Request and job schemas. The same schemas validate requests and generate the OpenAPI document.
 * Objects are strict: an unknown field is a 400, not silently ignored.
 */

export const JOB_KINDS = ['invert', 'sample', 'edit', 'reconstruct', 'interpolate'] as const;
export type JobKind = (typeof JOB_KINDS)[number];

export const JOB_STATUSES = ['queued', 'running', 'succeeded', 'failed', 'canceled', 'expired'] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];
export const TERMINAL_STATUSES: readonly JobStatus[] = ['succeeded', 'failed', 'canceled', 'expired'];

export const OUTPUT_FORMATS = ['png', 'webp', 'jpeg'] as const;

/** Ids and upload ids are restricted so they can never escape an S3 prefix or a key format. */
export const IdSchema = z
  .string()
  .regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be 1-64 characters of A-Z a-z 0-9 _ -');

export const SamplerSchema = z
  .discriminatedUnion('name', [
    z.strictObject({ name: z.literal('obelm') }),
    z.strictObject({ name: z.literal('ddim') }),
    z.strictObject({ name: z.literal('bdia'), gamma: z.number().gt(0).lte(1).default(1) }),
    z.strictObject({ name: z.literal('edict'), p: z.number().gt(0).lt(1).default(0.93) }),
  ])
  .describe('Sampler and its parameters; O-BELM by default.');
export type SamplerParams = z.infer<typeof SamplerSchema>;

export const ImageRefSchema = z.union([
  z.strictObject({ uploadId: IdSchema }).describe('An image uploaded with POST /v1/uploads.'),
  z
    .strictObject({
      // No length cap here: the request body limit bounds it, and the API answers an image over
      // MAX_INLINE_IMAGE_BYTES with 413 `image_too_large` rather than a schema error.
      base64: z
        .string()
        .min(1)
        .regex(/^[A-Za-z0-9+/=\s]+$/, 'must be base64'),
    })
    .describe('An inline image, base64-encoded (PNG, JPEG or WebP), at most 4 MiB decoded.'),
]);
export type ImageRef = z.infer<typeof ImageRefSchema>;

export const NoiseRefSchema = z
  .strictObject({ jobId: IdSchema })
  .describe(
    "The noise artifact of an earlier job of the same tenant. An invert or edit job's artifact sits at the noisy " +
      "end and starts sample and edit jobs (interpolate: invert jobs only); a sample job's artifact is its " +
      'final pair (x_1, x_0) at the clean end and starts invert and edit jobs, inverting that image exactly.',
  );
export type NoiseRef = z.infer<typeof NoiseRefSchema>;

/**
 * The settings of each job kind, written once: requests take them optional (the API fills in defaults),
 * resolved params (below) require them. Ranges that depend on the model (steps, guidance) are checked against
 * the model catalog (models.ts); these are only the bounds no model exceeds.
 */
const prompt = z.string().max(1000);
const setting = {
  model: IdSchema.describe('Model bundle id; the service default when omitted.'),
  steps: z.number().int().min(2).max(1000).describe("Inference steps N; the model's default."),
  guidance: z.number().min(0).max(20).describe('Classifier-free guidance scale g (CFG only when g > 1).'),
  negativePrompt: prompt,
  sampler: SamplerSchema,
  prompt,
  sourcePrompt: prompt.describe(
    "The prompt inverted with; '' by default, a sample job's own prompt when editing its noise.",
  ),
  targetPrompt: prompt,
  strength: z.number().gt(0).lte(1).describe('Fraction of the steps re-generated (1 = full inversion).'),
  seed: z.number().int().min(0).max(4294967295),
  weights: z.array(z.number().min(0).max(1)).min(1).max(16),
};

const common = {
  model: setting.model.optional(),
  steps: setting.steps.optional(),
  guidance: setting.guidance.optional(),
  negativePrompt: setting.negativePrompt.optional(),
  sampler: setting.sampler.optional(),
  output: z.strictObject({ format: z.enum(OUTPUT_FORMATS).default('png') }).optional(),
  metadata: z
    .record(z.string().max(64), z.string().max(512))
    .refine((m) => Object.keys(m).length <= 16, 'at most 16 entries')
    .optional()
    .describe('Free-form caller data returned with the job.'),
  webhook: WebhookSpecSchema.optional(),
};

/** An invert job's request (also what a batch applies to each of its images, batches.ts). */
export const InvertRequestSchema = z.strictObject({
  kind: z.literal('invert'),
  image: ImageRefSchema.optional().describe('The image to invert; give `image` or `noise`, not both.'),
  noise: NoiseRefSchema.optional().describe(
    "A sample job's noise: inverts its image exactly from the kept pair, back to that job's starting noise. " +
      "Prompt, guidance and negative prompt default to the sample job's; other values are refused.",
  ),
  prompt: setting.prompt.optional(),
  ...common,
});

export const CreateJobRequestSchema = z.discriminatedUnion('kind', [
  InvertRequestSchema,
  z.strictObject({
    kind: z.literal('sample'),
    noise: NoiseRefSchema.optional(),
    seed: setting.seed
      .optional()
      .describe('Seed of the starting noise; not with `noise`. Random when omitted.'),
    prompt: setting.prompt.optional(),
    ...common,
  }),
  z.strictObject({
    kind: z.literal('edit'),
    image: ImageRefSchema.optional(),
    noise: NoiseRefSchema.optional(),
    sourcePrompt: setting.sourcePrompt.optional(),
    targetPrompt: setting.targetPrompt,
    strength: setting.strength.optional(),
    ...common,
  }),
  z.strictObject({
    kind: z.literal('reconstruct'),
    image: ImageRefSchema,
    prompt: setting.prompt.optional(),
    ...common,
  }),
  z.strictObject({
    kind: z.literal('interpolate'),
    images: z
      .array(z.union([ImageRefSchema, NoiseRefSchema]))
      .length(2)
      .describe('Two images, or noise artifacts of earlier jobs.'),
    weights: setting.weights.default([0, 0.25, 0.5, 0.75, 1]),
    prompt: setting.prompt.optional(),
    ...common,
  }),
]);
export type CreateJobRequest = z.infer<typeof CreateJobRequestSchema>;

/** Where a job's input lives once the API has accepted it: always S3 (inline images are stored first). */
export const JobInputSchema = z.union([
  z.strictObject({ type: z.literal('image'), key: z.string() }),
  z.strictObject({
    type: z.literal('noise'),
    key: z.string(),
    jobId: IdSchema,
    /** The kind of the job that made it: where on the grid the state sits (artifacts.ts). */
    jobKind: z.enum(JOB_KINDS),
  }),
]);
export type JobInput = z.infer<typeof JobInputSchema>;

/** What every resolved job has, whatever its kind. */
const resolvedCommon = {
  model: z.string(),
  steps: setting.steps,
  guidance: setting.guidance,
  negativePrompt: setting.negativePrompt,
  sampler: SamplerSchema,
  outputFormat: z.enum(OUTPUT_FORMATS),
};

/**
 * Fully resolved job parameters, one shape per kind: every default filled in by the API, so a pipeline gets
 * exactly the fields its kind has and never guesses. Strict like the request schemas, so the job view's schema
 * (api.ts) also catches a field the API leaks.
 */
export const JobParamsSchema = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('invert'), ...resolvedCommon, prompt: setting.prompt }),
  z.strictObject({
    kind: z.literal('sample'),
    ...resolvedCommon,
    prompt: setting.prompt,
    /** The seed of the starting noise; absent when the job starts from a noise artifact. */
    seed: setting.seed.optional(),
  }),
  z.strictObject({
    kind: z.literal('edit'),
    ...resolvedCommon,
    sourcePrompt: setting.sourcePrompt,
    targetPrompt: setting.targetPrompt,
    strength: setting.strength,
  }),
  z.strictObject({ kind: z.literal('reconstruct'), ...resolvedCommon, prompt: setting.prompt }),
  z.strictObject({
    kind: z.literal('interpolate'),
    ...resolvedCommon,
    prompt: setting.prompt,
    weights: setting.weights,
  }),
]);
export type JobParams = z.output<typeof JobParamsSchema>;
/** The resolved params of one kind, e.g. `ParamsOf<'edit'>`. */
export type ParamsOf<K extends JobKind> = Extract<JobParams, { kind: K }>;

export const JobErrorSchema = z.strictObject({ code: z.string(), message: z.string() });
export type JobError = z.output<typeof JobErrorSchema>;

/** Where eps was computed: the provider actually used, the GPU (or CPU) model and onnxruntime's version. */
export const HardwareSchema = z.strictObject({
  provider: z.string(),
  device: z.string(),
  onnxruntime: z.string(),
});
export type Hardware = z.output<typeof HardwareSchema>;

export const JobMetricsSchema = z.strictObject({
  queueMs: z.number().optional(),
  runMs: z.number().optional(),
  gpuMs: z.number().optional(),
  /**
   * The round trip, measured: max |x_0' - x_0| over the latent, of a reconstruct job, or of a sample job from an
   * invert or edit job's noise in the same field (prompt, negative prompt, guidance) against the x_0 that
   * inversion started from (about 1e-13 on the same hardware; docs/math.md §10).
   */
  latentMaxAbsError: z.number().optional(),
  pixelMse: z.number().optional(),
  /**
   * Set when a noise input records where it was made: false when that was other hardware than this run's
   * (a round trip is then about 1e-6, not 1e-13; docs/math.md §10), and `noiseHardware` says which.
   */
  hardwareMatch: z.boolean().optional(),
  noiseHardware: HardwareSchema.optional(),
  /**
   * With `hardwareMatch: false`, measured: max |eps_here - eps_maker| of the maker's last model call, recomputed by
   * this run's model at the same state, timestep and prompts. 0 when the two agree bitwise; absent when the noise
   * kept no last eps (older artifacts, DDIM, EDICT sampling).
   */
  noiseEpsDrift: z.number().optional(),
});
export type JobMetrics = z.output<typeof JobMetricsSchema>;

/** Sampler steps done over the whole job, out of `of`. */
export const JobProgressSchema = z.strictObject({ step: z.number().int(), of: z.number().int() });
export type JobProgress = z.output<typeof JobProgressSchema>;

/** S3 keys of a finished job's outputs. */
export interface JobOutputs {
  image?: string;
  images?: string[];
  noise?: string;
  report?: string;
  /** Reconstruct jobs: the PNG heatmap of the per-position latent error, coloured on `ERROR_MAP_SCALE`. */
  errorMap?: string;
}

/**
 * The scale of a reconstruct job's error map (max over channels of |x_0' - x_0| per latent position): log10,
 * from `min` (the darkest colour; an exact zero too) to `max` (the brightest), clamped at both ends. 1e-16 is
 * float64's rounding at the latent's scale, so an exact sampler's ~1e-13 shows dark and DDIM's ~1e-2 bright.
 */
export const ERROR_MAP_SCALE = { min: 1e-16, max: 1 } as const;

/**
 * Where a stopped run can resume: pipeline stage `stage` (0-based) from the sampler state at `key`, with the
 * end states of the stages before it at `completedKeys` (all float64 safetensors in the noise-artifact format).
 * `step` counts the sampler steps done over the whole job.
 */
export interface JobCheckpoint {
  key: string;
  completedKeys: string[];
  stage: number;
  step: number;
  savedAt: string;
  /**
   * GPU milliseconds of the work up to this checkpoint, over every attempt that led to it: what a job that
   * resumes from here has already spent (billing.ts `billableGpuMs`). Absent on checkpoints of old items (0).
   */
  gpuMs?: number;
}

/**
 * Whether a queued or running job holds one of its tenant's dispatch slots (`sent`: its message is in the jobs
 * queue, or it runs) or waits in the table for one (`held`). Fair share: a tenant has at most `parallelJobs`
 * sent at once (tenants.ts); store dispatch.ts releases held jobs oldest first as sent ones end.
 */
export type JobDispatch = 'held' | 'sent';

/** The DynamoDB job item (pk/sk/gsi1 keys from `dbKeys`). */
export interface JobItem {
  id: string;
  tenant: string;
  status: JobStatus;
  params: JobParams;
  inputs: JobInput[];
  outputs?: JobOutputs;
  progress?: JobProgress;
  /** When `progress` was last written (a heartbeat alone leaves it). */
  progressAt?: string;
  metrics?: JobMetrics;
  error?: JobError;
  metadata?: Record<string, string>;
  attempts: number;
  createdAt: string;
  updatedAt: string;
  startedAt?: string;
  finishedAt?: string;
  heartbeatAt?: string;
  /** When the current (or last) attempt claimed the job: a running job's step pace is measured from it. */
  claimedAt?: string;
  /**
   * When a message for the job was last put in the jobs queue (created, sent again by the sweeper) or made
   * visible there again (a worker gave the job back). The sweeper's lost-message rule reads it (sweeper.ts).
   */
  enqueuedAt?: string;
  workerId?: string;
  cancelRequested?: boolean;
  /** Set when a stopped worker saved its progress; the next worker resumes from it. */
  checkpoint?: JobCheckpoint;
  /** Recorded by the terminal transition itself (transitions.ts): what follows a job's end reads it. */
  endEvent?: JobEndEvent;
  /**
   * Set by the terminal transition with `endEvent`, removed once what follows the end is done (the usage entry
   * written, held jobs released: store outbox.ts). The sweeper finishes any left set by a crash.
   */
  outboxPending?: boolean;
  /** The price the job was accepted at (billing.ts); absent on items from before pricing (billed 0). */
  price?: JobPrice;
  /** What the job's end billed, written by the terminal transition itself (billing.ts `billFor`). */
  billing?: JobBilling;
  /** Queued and running jobs only: sent to the queue or held for a dispatch slot (removed at the end). */
  dispatch?: JobDispatch;
  /** Set when the caller deleted the job's data (DELETE /v1/jobs/{id}): the item stays as a tombstone. */
  deletedAt?: string;
  /** Where the job's end events go (webhooks.ts); the outbox relay puts the delivery when the job ends. */
  webhook?: WebhookSpec;
  /** A job a batch started (batches.ts): the batch, and the object (key, version) it inverts. */
  batch?: { id: string; key: string; versionId?: string };
  /** Epoch seconds after which a still-queued job is expired and the item may be deleted (DynamoDB TTL). */
  ttl: number;
}
