/**
 * Every storage key format lives here: S3 object keys and DynamoDB item keys.
 * Tenants and ids are validated upstream to `[A-Za-z0-9_-]`, so no key can escape its prefix.
 */
import { TABLE } from './table.ts';

/**
 * The bucket's top-level prefixes. Infra scopes IAM grants, lifecycle rules and the batch trigger by them,
 * so a key below must start with one of these.
 */
export const S3_PREFIXES = {
  uploads: 'uploads/',
  jobs: 'jobs/',
  /** Images dropped here start one job each (batch trigger). */
  batch: 'batch/',
  batchOut: 'batch-out/',
  models: 'models/',
} as const;

const { uploads, jobs, models } = S3_PREFIXES;
const jobPrefix = (tenant: string, jobId: string) => `${jobs}${tenant}/${jobId}/`;

export const s3Keys = {
  upload: (tenant: string, uploadId: string) => `${uploads}${tenant}/${uploadId}`,
  jobPrefix,
  jobInput: (tenant: string, jobId: string, n: number) => `${jobPrefix(tenant, jobId)}input-${n}`,
  jobImage: (tenant: string, jobId: string, ext: string) => `${jobPrefix(tenant, jobId)}image.${ext}`,
  jobImageN: (tenant: string, jobId: string, n: number, ext: string) =>
    `${jobPrefix(tenant, jobId)}image-${n}.${ext}`,
  jobNoise: (tenant: string, jobId: string) => `${jobPrefix(tenant, jobId)}noise.safetensors`,
  jobReport: (tenant: string, jobId: string) => `${jobPrefix(tenant, jobId)}report.json`,
  /** A reconstruct job's error heatmap (jobs.ts `ERROR_MAP_SCALE`). */
  jobErrorMap: (tenant: string, jobId: string) => `${jobPrefix(tenant, jobId)}error-map.png`,
  /** Where every checkpoint object of a job starts (what a finished job's cleanup lists). */
  jobCheckpoints: (tenant: string, jobId: string) => `${jobPrefix(tenant, jobId)}checkpoint`,
  /**
   * The state a job reached after `step` sampler steps (periodic and stop checkpoints). One key per step: a run
   * is deterministic, so whoever writes it writes the same bytes, and a newer checkpoint never overwrites the
   * one the item still points to.
   */
  jobCheckpointAt: (tenant: string, jobId: string, step: number) =>
    `${jobPrefix(tenant, jobId)}checkpoint-step-${step}.safetensors`,
  /** End state of an earlier pipeline stage, saved with a checkpoint (n = stage index). */
  jobCheckpointStage: (tenant: string, jobId: string, n: number) =>
    `${jobPrefix(tenant, jobId)}checkpoint-stage-${n}.safetensors`,
  model: (bundle: string) => `${models}${bundle}/`,
  /** Where a batch's images are dropped: every object created below starts one invert job. */
  batchPrefix: (tenant: string, batchId: string) => `${S3_PREFIXES.batch}${tenant}/${batchId}/`,
  /** The noise of the job that inverted `name` (the object's key below the batch prefix). */
  batchNoise: (tenant: string, batchId: string, name: string) =>
    `${S3_PREFIXES.batchOut}${tenant}/${batchId}/${name}.noise.safetensors`,
  batchSummary: (tenant: string, batchId: string) =>
    `${S3_PREFIXES.batchOut}${tenant}/${batchId}/summary.json`,
} as const;

/**
 * Single-table design (table.ts): pk/sk primary key; gsi1 lists a tenant's jobs newest first and its API keys;
 * gsi2 holds only active (queued or running) jobs, per tenant, sent and held apart, oldest first.
 */
export const dbKeys = {
  job: (jobId: string) => ({ pk: `JOB#${jobId}`, sk: 'JOB' }),
  jobByTenant: (tenant: string, createdAt: string, jobId: string) => ({
    gsi1pk: `TENANT#${tenant}#JOBS`,
    gsi1sk: `${createdAt}#${jobId}`,
  }),
  tenantJobsPartition: (tenant: string) => `TENANT#${tenant}#JOBS`,
  /**
   * An active job's place in its tenant's dispatch order (gsi2, a sparse index: the terminal transition removes
   * both attributes). Sent jobs sort under `S#`, held ones under `H#`, each oldest first (queried by prefix).
   */
  activeJob: (tenant: string, dispatch: 'held' | 'sent', createdAt: string, jobId: string) => ({
    gsi2pk: `TENANT#${tenant}#ACTIVE`,
    gsi2sk: `${dispatch === 'sent' ? 'S' : 'H'}#${createdAt}#${jobId}`,
  }),
  tenantActivePartition: (tenant: string) => `TENANT#${tenant}#ACTIVE`,
  /** gsi2 sort-key prefixes of sent and held jobs (Query begins_with). */
  activePrefix: { sent: 'S#', held: 'H#' },
  upload: (uploadId: string) => ({ pk: `UPLOAD#${uploadId}`, sk: 'UPLOAD' }),
  idempotency: (tenant: string, key: string) => ({ pk: `IDEMPOTENCY#${tenant}#${key}`, sk: 'IDEMPOTENCY' }),
  /** An API key, by its public id (tenants.ts: the key names its id). */
  apiKey: (keyId: string) => ({ pk: `APIKEY#${keyId}`, sk: 'APIKEY' }),
  keyByTenant: (tenant: string, createdAt: string, keyId: string) => ({
    gsi1pk: `TENANT#${tenant}#KEYS`,
    gsi1sk: `${createdAt}#${keyId}`,
  }),
  tenantKeysPartition: (tenant: string) => `TENANT#${tenant}#KEYS`,
  tenant: (tenant: string) => ({ pk: `TENANT#${tenant}`, sk: 'TENANT' }),
  /** One usage entry per ended job, in its tenant's partition, by month: a month is one Query. */
  usageEntry: (tenant: string, month: string, jobId: string) => ({
    pk: `TENANT#${tenant}`,
    sk: `USAGE#${month}#${jobId}`,
  }),
  usageMonthPrefix: (month: string) => `USAGE#${month}#`,
  /** Requests of one API key in one second (a fixed-window rate limit; kept a minute by TTL). */
  rateWindow: (keyId: string, epochSecond: number) => ({ pk: `RATE#${keyId}`, sk: `S#${epochSecond}` }),
  /** A webhook delivery, by its event id (the webhook-id). */
  webhookDelivery: (eventId: string) => ({ pk: `WEBHOOK#${eventId}`, sk: 'DELIVERY' }),
  batch: (batchId: string) => ({ pk: `BATCH#${batchId}`, sk: 'BATCH' }),
  batchByTenant: (tenant: string, createdAt: string, batchId: string) => ({
    gsi1pk: `TENANT#${tenant}#BATCHES`,
    gsi1sk: `${createdAt}#${batchId}`,
  }),
  /** One item per job a batch started, in the batch's partition: the batch's jobs are one Query. */
  batchJob: (batchId: string, jobId: string) => ({ pk: `BATCH#${batchId}`, sk: `JOB#${jobId}` }),
  batchJobPrefix: 'JOB#',
  /** Model catalog entries share one partition, so one Query lists them all. */
  model: (modelId: string) => ({ pk: 'MODELS', sk: `MODEL#${modelId}` }),
  modelsPartition: 'MODELS',
  /** A model's measured pace in one UTC hour (`YYYY-MM-DDTHH`): its jobs' run time and steps, summed. */
  modelPace: (modelId: string, hour: string) => ({ pk: `PACE#${modelId}`, sk: `H#${hour}` }),
  modelPacePartition: (modelId: string) => `PACE#${modelId}`,
} as const;

/** The index name queries pass as IndexName. */
export const GSI1 = TABLE.gsi1.name;
export const GSI2 = TABLE.gsi2.name;
