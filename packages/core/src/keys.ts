/**
 * Every storage key format lives here: S3 object keys and DynamoDB item keys.
 * Tenants and ids are validated upstream to `[A-Za-z0-9_-]`, so no key can escape its prefix.
 */

export const s3Keys = {
  upload: (tenant: string, uploadId: string) => `uploads/${tenant}/${uploadId}`,
  jobPrefix: (tenant: string, jobId: string) => `jobs/${tenant}/${jobId}/`,
  jobInput: (tenant: string, jobId: string, n: number) => `jobs/${tenant}/${jobId}/input-${n}`,
  jobImage: (tenant: string, jobId: string, ext: string) => `jobs/${tenant}/${jobId}/image.${ext}`,
  jobImageN: (tenant: string, jobId: string, n: number, ext: string) =>
    `jobs/${tenant}/${jobId}/image-${n}.${ext}`,
  jobNoise: (tenant: string, jobId: string) => `jobs/${tenant}/${jobId}/noise.safetensors`,
  jobReport: (tenant: string, jobId: string) => `jobs/${tenant}/${jobId}/report.json`,
  jobCheckpoint: (tenant: string, jobId: string) => `jobs/${tenant}/${jobId}/checkpoint.safetensors`,
  /** End state of an earlier pipeline stage, saved with a checkpoint (n = stage index). */
  jobCheckpointStage: (tenant: string, jobId: string, n: number) =>
    `jobs/${tenant}/${jobId}/checkpoint-stage-${n}.safetensors`,
  model: (bundle: string) => `models/${bundle}/`,
} as const;

/** Single-table design: pk/sk primary key, gsi1 lists a tenant's jobs newest first. */
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
} as const;

export const GSI1 = 'gsi1';
