import { resolve } from 'node:path';
import { IdSchema } from '@obelm/core';
import { z } from 'zod';

/** `npm start` settings, from environment variables with defaults; validated at start (ConfigError lists all). */
export const LocalConfigSchema = z.object({
  OBELM_HOST: z.union([z.ipv4(), z.ipv6(), z.literal('localhost')]).default('127.0.0.1'),
  OBELM_PORT: z.coerce.number().int().min(0).max(65535).default(8787),
  OBELM_DATA_DIR: z.string().min(1).default('.obelm'),
  /** The dev API key; by default one is generated on first start and kept in the data folder. */
  OBELM_DEV_API_KEY: z.string().min(16).optional(),
  /** Ends up in storage keys, so it follows the id rule of every key part. */
  OBELM_DEV_TENANT: IdSchema.default('dev'),
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
