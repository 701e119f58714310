import { z } from 'zod';
import { DEFAULT_PRICE_TABLE, PriceTableSchema } from './billing.ts';
import { MAX_IMAGE_BYTES } from './images.ts';
import { WORKER_HEARTBEAT_SECONDS, WORKER_MAX_ATTEMPTS } from './queues.ts';
import { DEFAULT_TENANT_LIMITS, type TenantLimits, TenantLimitsOverrideSchema } from './tenants.ts';

/**
 * Configuration from environment variables, validated once at start with clear errors.
 * The same variables are set by SST from linked resources in the cloud and by `npm start` locally.
 */

const int = (def: number) => z.coerce.number().int().positive().default(def);

/** A variable holding JSON that `schema` validates. */
const json = <S extends z.ZodType>(schema: S) =>
  z
    .string()
    .transform((text, ctx) => {
      try {
        return JSON.parse(text) as unknown;
      } catch {
        ctx.addIssue({ code: 'custom', message: 'must be JSON' });
        return z.NEVER;
      }
    })
    .pipe(schema);

export const ServiceConfigSchema = z.object({
  OBELM_STAGE: z.string().default('local'),
  OBELM_BUCKET: z.string().min(3),
  OBELM_TABLE: z.string().min(3),
  OBELM_JOBS_QUEUE_URL: z.url(),
  OBELM_WEBHOOKS_QUEUE_URL: z.url().optional(),
  OBELM_DEFAULT_MODEL: z.string().default('demo'),
  /** Seconds a queued job may wait before it expires. */
  OBELM_JOB_TTL_SECONDS: int(24 * 3600),
  /** Lifetime of presigned URLs. */
  OBELM_PRESIGN_SECONDS: int(3600),
  OBELM_UPLOAD_MAX_BYTES: int(MAX_IMAGE_BYTES),
  /** The stage's price table (billing.ts), as JSON; DEFAULT_PRICE_TABLE when unset. */
  OBELM_PRICES: json(PriceTableSchema).default(DEFAULT_PRICE_TABLE),
  /** The stage's default tenant limits (tenants.ts), as JSON; each omitted one is core's default. */
  OBELM_TENANT_LIMITS: json(TenantLimitsOverrideSchema)
    .default({})
    .transform((o): TenantLimits => ({ ...DEFAULT_TENANT_LIMITS, ...o })),
  /** Days an ended job's inputs and outputs stay in S3 (the bucket's lifecycle rule); the job view shows when. */
  OBELM_OUTPUT_RETENTION_DAYS: int(30),
  /** The webhooks queue's dead-letter queue: a delivery given up after WEBHOOK_MAX_ATTEMPTS lands there. */
  OBELM_WEBHOOKS_DLQ_URL: z.url().optional(),
  /**
   * Local stack only: webhook URLs may name http://127.0.0.1 (a receiver on this machine). The cloud never sets
   * it (infra has no such setting), so loopback and every other private address stay refused there.
   */
  OBELM_WEBHOOK_ALLOW_LOOPBACK: z.stringbool().default(false),
  /**
   * Tests only: a factor on every webhook retry delay (webhooks.ts `webhookRetryDelaySeconds`), so a test's
   * fifteen attempts take about two seconds. 1 everywhere else.
   */
  OBELM_WEBHOOK_RETRY_SCALE: z.coerce.number().min(0).max(1).default(1),
  /** The KMS key that seals webhook signing secrets at rest (cloud). */
  OBELM_KMS_KEY_ID: z.string().min(1).optional(),
  /** Without KMS (local stack): a 32-byte hex key that seals them with AES-256-GCM, kept in the data folder. */
  OBELM_SECRETS_KEY: z
    .string()
    .regex(/^[0-9a-f]{64}$/, '64 hex digits')
    .optional(),
});
export type ServiceConfig = z.infer<typeof ServiceConfigSchema>;

export const WorkerConfigSchema = ServiceConfigSchema.extend({
  /**
   * The model the worker loads at start: a model id, or an S3 prefix `s3://<bucket>/<path>/<id>/`, whose last
   * segment is its id. A job's `params.model` id maps to one bundle: 'demo' is built in; the id of an s3:// URL
   * here is that prefix; any other id is the prefix `models/<id>/` of OBELM_BUCKET. S3 bundles are copied
   * into OBELM_MODEL_CACHE/<id>/ and re-downloaded only when the prefix's listing (ETags, sizes) changes.
   */
  OBELM_MODEL_BUNDLE: z.string().default('demo'),
  OBELM_PROVIDER: z.enum(['cpu', 'cuda', 'webgpu']).default('cpu'),
  /**
   * When OBELM_PROVIDER is a GPU provider that cannot load: 'none' (the default) stops the worker with a clear
   * error, so a GPU instance is never billed to run on one CPU thread; 'cpu' runs on the CPU with a warning.
   */
  OBELM_PROVIDER_FALLBACK: z.enum(['none', 'cpu']).default('none'),
  OBELM_THREADS: z.coerce.number().int().min(0).default(0),
  OBELM_HEARTBEAT_SECONDS: int(WORKER_HEARTBEAT_SECONDS),
  /** Folder of downloaded and generated bundles; shared by the workers of one host. Default ./.obelm/models. */
  OBELM_MODEL_CACHE: z.string().optional(),
  OBELM_WORKER_ID: z.string().optional(),
  /**
   * The file a ready worker touches on every poll and job heartbeat; `--health` checks its age (the container
   * health check). Default `<os tmpdir>/obelm-worker-health`.
   */
  OBELM_HEALTH_FILE: z.string().min(1).optional(),
  /** Long-poll wait of one ReceiveMessage (SQS allows 0..20); stop() lets a wait in progress end. */
  OBELM_POLL_SECONDS: z.coerce.number().int().min(0).max(20).default(20),
  /** On SIGTERM, a job that cannot finish within this many seconds is checkpointed (spot notices give 120 s). */
  OBELM_STOP_GRACE_SECONDS: z.coerce.number().min(0).default(90),
  /** Claims of one job before it is failed instead of retried (crash loops end here). */
  OBELM_MAX_ATTEMPTS: int(WORKER_MAX_ATTEMPTS),
  /**
   * A running job saves a checkpoint after every this many seconds of model time, so a worker that dies without
   * a word (SIGKILL, a lost instance) costs at most that much work; 0 saves none (a SIGTERM still checkpoints).
   */
  OBELM_CHECKPOINT_SECONDS: z.coerce.number().min(0).default(10),
  /**
   * Jobs one worker process runs at once: their model calls are merged into shared batches (OBELM_MAX_BATCH_ROWS),
   * and the jobs of one full call more are claimed and prefetched (model, inputs, checkpoint) to take the slots
   * as they free. The default, 16, is two full calls of the default 16 rows with guided (2-row) calls: two
   * cohorts of 8 jobs take turns on the model, each computing its steps while the other's call runs, so the
   * model does not wait for the host between calls. A backlog of 8 or fewer still runs as one cohort.
   */
  OBELM_WORKER_SLOTS: z.coerce.number().int().min(1).max(64).default(16),
  /**
   * Most rows in one model call; a guided job brings 2 per step. Where the provider's kernels are not batch
   * invariant (checked at model load), every call is padded to exactly this many rows so outputs stay exact.
   */
  OBELM_MAX_BATCH_ROWS: z.coerce.number().int().min(1).max(256).default(16),
  /**
   * Jobs received together (a backlog) enter the model together, so their first calls are one batch; this bounds
   * how long, from the first of them ready, they wait for the others' claims and input fetches: about one GPU
   * UNet call, so one slow download costs the rest at most a call's time.
   */
  OBELM_ADMISSION_HOLD_MS: z.coerce.number().int().min(0).max(10_000).default(30),
  /** Tests only: sleep this long after every sampler step, to make a job slow enough to cancel or stop. */
  OBELM_TEST_STEP_DELAY_MS: z.coerce.number().int().min(0).default(0),
});
export type WorkerConfig = z.infer<typeof WorkerConfigSchema>;

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** Parses `env` with `schema`; throws a ConfigError listing every bad variable. */
export function loadConfig<S extends z.ZodType>(
  schema: S,
  env: Record<string, string | undefined> = process.env,
): z.infer<S> {
  const parsed = schema.safeParse(env);
  if (parsed.success) return parsed.data;
  const lines = parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
  throw new ConfigError(`Invalid configuration:\n${lines.join('\n')}`);
}
