import { createHash, randomBytes } from 'node:crypto';
import { z } from 'zod';
import { MAX_IMAGE_PIXELS } from './images.ts';
import { IdSchema } from './jobs.ts';
import type { StoredWebhookSecret } from './webhooks.ts';

/**
 * Tenants, their API keys and their limits: the item shapes, the key format and the limit rules. Stored by
 * `@obelm/store` (tenants.ts), read by the API's auth middleware and `obelm admin`.
 */

export const TenantIdSchema = IdSchema;

/**
 * What a tenant may do. Stage defaults come from OBELM_TENANT_LIMITS (stacks/settings.ts `tenantLimits`); a
 * tenant's item overrides any of them (`obelm admin set-limits`).
 */
export const TenantLimitsSchema = z.strictObject({
  /** Requests per second per API key (429 `rate_limited`). */
  requestsPerSecond: z.number().int().min(1).max(100_000),
  /** Jobs queued or running at once (429 `concurrency_limit`). */
  maxActiveJobs: z.number().int().min(1).max(100_000),
  /**
   * Jobs in the shared jobs queue or running at once: the rest wait in the table and are released, oldest
   * first, as these end (fair share, store dispatch.ts). The most GPUs the tenant can hold at once.
   */
  parallelJobs: z.number().int().min(1).max(10_000),
  /** Most sampler steps of one job (400 `steps_out_of_range`, `details.limit: 'plan'`). */
  maxSteps: z.number().int().min(2).max(1000),
  /** Most pixels (width x height) of an input image (413 `image_too_large`, `details.limit: 'plan'`). */
  maxPixels: z.number().int().min(1).max(MAX_IMAGE_PIXELS),
  /** Spend per calendar month (UTC), in micro-units of the price table's currency (402 `quota_exceeded`). */
  monthlyBudgetMicros: z.number().int().min(0).optional(),
  /** GPU seconds per calendar month (UTC) (402 `quota_exceeded`). */
  monthlyGpuSeconds: z.number().int().min(0).optional(),
});
export type TenantLimits = z.output<typeof TenantLimitsSchema>;
export const TenantLimitsOverrideSchema = TenantLimitsSchema.partial();
export type TenantLimitsOverride = z.output<typeof TenantLimitsOverrideSchema>;

/** Limits where neither the stage nor the tenant says otherwise. */
export const DEFAULT_TENANT_LIMITS: TenantLimits = {
  requestsPerSecond: 20,
  maxActiveJobs: 100,
  parallelJobs: 4,
  maxSteps: 1000,
  maxPixels: MAX_IMAGE_PIXELS,
};

/** A tenant's limits: its own overrides over the stage's defaults. */
export const effectiveLimits = (
  stageDefaults: TenantLimits,
  tenant: Pick<TenantItem, 'limits'> | undefined,
): TenantLimits => ({ ...stageDefaults, ...(tenant?.limits ?? {}) });

export const TENANT_STATUSES = ['active', 'suspended'] as const;
export type TenantStatus = (typeof TENANT_STATUSES)[number];

/** DynamoDB item of a tenant (`dbKeys.tenant(tenant)`). */
export interface TenantItem {
  tenant: string;
  status: TenantStatus;
  createdAt: string;
  updatedAt: string;
  limits?: TenantLimitsOverride;
  /**
   * Webhook signing secrets, sealed (store webhookSecrets.ts): the current one first, then the one the last
   * rotation replaced while it still signs (its `expiresAt`). Absent until the first use.
   */
  webhookSecrets?: StoredWebhookSecret[];
}

/**
 * DynamoDB item of an API key (`dbKeys.apiKey(keyId)`, listed per tenant through gsi1 `dbKeys.keyByTenant`).
 * Only the SHA-256 of the whole key is stored; `keyId` is public (listings, logs).
 */
export interface ApiKeyItem {
  keyId: string;
  tenant: string;
  secretHash: string;
  status: 'active' | 'revoked';
  createdAt: string;
  revokedAt?: string;
}

/**
 * How long the API trusts a key (and its tenant's status and limits) it has read, per container: a revoked key
 * or a suspended tenant is refused everywhere within this (issue: within 5 s).
 */
export const AUTH_CACHE_MS = 4000;

/**
 * API key format: `obelm_<keyId>_<secret>`, keyId `key_` + 12 of [a-z0-9] (public), secret 32 random bytes in
 * base64url. The key names its own item, so a lookup is one GetItem, and a listing can show the key id.
 */
const KEY_PATTERN = /^obelm_(key_[a-z0-9]{12})_([A-Za-z0-9_-]{43})$/;
const KEY_ID_ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789';
export const KeyIdSchema = z.string().regex(/^key_[a-z0-9]{12}$/, 'must be key_ and 12 of a-z 0-9');

export function newApiKey(): { keyId: string; key: string } {
  let id = '';
  for (const byte of randomBytes(12)) id += KEY_ID_ALPHABET[byte % KEY_ID_ALPHABET.length];
  const keyId = `key_${id}`;
  return { keyId, key: `obelm_${keyId}_${randomBytes(32).toString('base64url')}` };
}

/** The key id a key names, or undefined when it is not a key of this format. */
export const keyIdOf = (key: string): string | undefined => KEY_PATTERN.exec(key)?.[1];

export const hashApiKey = (key: string): string => createHash('sha256').update(key, 'utf8').digest('hex');
