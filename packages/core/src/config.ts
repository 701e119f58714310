import { z } from 'zod';

/**
 * Configuration from environment variables, validated once at start with clear errors.
 * The same variables are set by SST from linked resources in the cloud and by `npm start` locally.
 */

const int = (def: number) => z.coerce.number().int().positive().default(def);

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
  OBELM_UPLOAD_MAX_BYTES: int(20 * 1024 * 1024),
  /** Local stack only: the single API key accepted until key management exists. */
  OBELM_DEV_API_KEY: z.string().min(16).optional(),
  OBELM_DEV_TENANT: z.string().default('dev'),
});
export type ServiceConfig = z.infer<typeof ServiceConfigSchema>;

export const WorkerConfigSchema = ServiceConfigSchema.extend({
  OBELM_MODEL_BUNDLE: z.string().default('demo'),
  OBELM_PROVIDER: z.enum(['cpu', 'cuda', 'webgpu']).default('cpu'),
  OBELM_THREADS: z.coerce.number().int().min(0).default(0),
  OBELM_HEARTBEAT_SECONDS: int(30),
  OBELM_MODEL_CACHE: z.string().optional(),
  OBELM_WORKER_ID: z.string().optional(),
  /** Long-poll wait of one ReceiveMessage (SQS allows 0..20); stop() aborts a wait in progress. */
  OBELM_POLL_SECONDS: z.coerce.number().int().min(0).max(20).default(20),
  /** On SIGTERM, a job that cannot finish within this many seconds is checkpointed (spot notices give 120 s). */
  OBELM_STOP_GRACE_SECONDS: z.coerce.number().min(0).default(90),
  /** Claims of one job before it is failed instead of retried (crash loops end here). */
  OBELM_MAX_ATTEMPTS: int(3),
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
