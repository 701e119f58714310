import { resolve } from 'node:path';
import { IdSchema, keyIdOf } from '@obelm/core';
import { z } from 'zod';

/** `npm start` settings, from environment variables with defaults; validated at start (ConfigError lists all). */
export const LocalConfigSchema = z.object({
  OBELM_HOST: z.union([z.ipv4(), z.ipv6(), z.literal('localhost')]).default('127.0.0.1'),
  OBELM_PORT: z.coerce.number().int().min(0).max(65535).default(8787),
  OBELM_DATA_DIR: z.string().min(1).default('.obelm'),
  /**
   * The dev tenant's API key, of the obelm_<keyId>_<secret> format (`obelm admin create-key` prints one); by
   * default one is created on first start and kept in the data folder.
   */
  OBELM_DEV_API_KEY: z
    .string()
    .refine((key) => keyIdOf(key) !== undefined, 'must be an obelm API key (obelm_key_<12 chars>_<secret>)')
    .optional(),
  /** The tenant created at first start for the dev key. Ends up in storage keys: the id rule of every key part. */
  OBELM_DEV_TENANT: IdSchema.default('dev'),
  /** The local stage's default tenant limits (JSON, as OBELM_TENANT_LIMITS in the cloud); see stack.ts. */
  OBELM_TENANT_LIMITS: z.string().optional(),
  /** The local stage's price table (JSON, as OBELM_PRICES in the cloud); core's default when unset. */
  OBELM_PRICES: z.string().optional(),
  /** Webhook URLs may name http://127.0.0.1 (a receiver on this machine): `false` makes the guard the cloud's. */
  OBELM_WEBHOOK_ALLOW_LOOPBACK: z.enum(['true', 'false']).optional(),
  /** Worker processes to run (0: API only). */
  OBELM_WORKERS: z.coerce.number().int().min(0).max(16).default(1),
  /**
   * A running job without a heartbeat for this long is re-queued by the sweeps. Default: core's rule, two
   * missed heartbeats (packages/core/src/queues.ts).
   */
  OBELM_STALE_SECONDS: z.coerce.number().int().positive().optional(),
  /** Seconds between sweeps after the one at start (0: only at start). */
  OBELM_SWEEP_SECONDS: z.coerce.number().int().min(0).default(30),
});
export type LocalConfig = z.infer<typeof LocalConfigSchema>;

export const dataDirOf = (config: LocalConfig, cwd = process.cwd()) => resolve(cwd, config.OBELM_DATA_DIR);
