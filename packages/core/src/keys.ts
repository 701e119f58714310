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
} as const;

/** Single-table design (table.ts): pk/sk primary key, gsi1 lists a tenant's jobs newest first. */
export const dbKeys = {
  job: (jobId: string) => ({ pk: `JOB#${jobId}`, sk: 'JOB' }),
  jobByTenant: (tenant: string, createdAt: string, jobId: string) => ({
    gsi1pk: `TENANT#${tenant}#JOBS`,
    gsi1sk: `${createdAt}#${jobId}`,
  }),
  tenantJobsPartition: (tenant: string) => `TENANT#${tenant}#JOBS`,
  upload: (uploadId: string) => ({ pk: `UPLOAD#${uploadId}`, sk: 'UPLOAD' }),
  idempotency: (tenant: string, key: string) => ({ pk: `IDEMPOTENCY#${tenant}#${key}`, sk: 'IDEMPOTENCY' }),
  apiKey: (keyHash: string) => ({ pk: `APIKEY#${keyHash}`, sk: 'APIKEY' }),
  tenant: (tenant: string) => ({ pk: `TENANT#${tenant}`, sk: 'TENANT' }),
  usage: (tenant: string, month: string) => ({ pk: `TENANT#${tenant}`, sk: `USAGE#${month}` }),
  /** Model catalog entries share one partition, so one Query lists them all. */
  model: (modelId: string) => ({ pk: 'MODELS', sk: `MODEL#${modelId}` }),
  modelsPartition: 'MODELS',
} as const;

/** The index name queries pass as IndexName. */
export const GSI1 = TABLE.gsi1.name;
