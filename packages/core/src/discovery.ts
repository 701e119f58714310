import { z } from 'zod';
import { TenantLimitsSchema } from './tenants.ts';

/**
 * How tools (`obelm admin`, `obelm usage`) find a running service: the local stack's discovery file in its data
 * folder (written by packages/local, read by packages/cli), or a deployed stage's SSM parameters (written by
 * infra/discovery.ts, read by packages/cli with `--stage`).
 */

/** The file a running local stack keeps in its data folder (mode 0600), removed when it stops. */
export const LOCAL_STACK_FILE = 'stack.json';

/** The file in the data folder that holds the local stack's dev API key (mode 0600). */
export const LOCAL_DEV_KEY_FILE = 'dev-api-key';

export const LocalStackFileSchema = z.object({
  /** The stack's process: a file whose process is gone was left by a stack that did not stop cleanly. */
  pid: z.number().int().positive(),
  apiUrl: z.url(),
  region: z.string(),
  /** The stand-ins' fixed local credentials (s3rver knows one account; the others accept any). */
  credentials: z.object({ accessKeyId: z.string(), secretAccessKey: z.string() }),
  endpoints: z.object({ s3: z.url(), sqs: z.url(), dynamodb: z.url() }),
  table: z.string(),
  bucket: z.string(),
  queues: z.object({ jobs: z.url(), webhooks: z.url() }),
  /** OBELM_TENANT_LIMITS of the stack: the limits of a tenant whose item overrides none. */
  tenantLimits: TenantLimitsSchema,
  /** The dev tenant and the file holding its key. */
  devTenant: z.string(),
  devKeyFile: z.string(),
});
export type LocalStackFile = z.infer<typeof LocalStackFileSchema>;

/** The SSM parameters of a deployed stage, in its account and region. */
export const stageParameters = (stage: string) => ({
  /** The table's name. */
  table: `/obelm/${stage}/table`,
  /** The bucket's name (model bundles go under its `models/<id>/`). */
  bucket: `/obelm/${stage}/bucket`,
  /** The stage's default tenant limits: its OBELM_TENANT_LIMITS over core's defaults, as JSON (TenantLimits). */
  tenantLimits: `/obelm/${stage}/tenant-limits`,
});
