import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_TENANT_LIMITS,
  effectiveLimits,
  hashApiKey,
  KeyIdSchema,
  keyIdOf,
  newApiKey,
  TenantLimitsOverrideSchema,
} from '../src/tenants.ts';

describe('API keys', () => {
  it('are obelm_<keyId>_<secret>: a public id of 12 [a-z0-9] and 32 random bytes in base64url', () => {
    const { keyId, key } = newApiKey();
    expect(keyId).toMatch(/^key_[a-z0-9]{12}$/);
    expect(KeyIdSchema.parse(keyId)).toBe(keyId);
    const secret = key.slice(`obelm_${keyId}_`.length);
    expect(key.startsWith(`obelm_${keyId}_`)).toBe(true);
    expect(Buffer.from(secret, 'base64url')).toHaveLength(32);
    expect(keyIdOf(key)).toBe(keyId);
  });

  it('never repeat an id or a secret', () => {
    const keys = Array.from({ length: 200 }, () => newApiKey());
    expect(new Set(keys.map((k) => k.keyId)).size).toBe(keys.length);
    expect(new Set(keys.map((k) => k.key)).size).toBe(keys.length);
  });

  it('name no key id unless the whole key is of the format', () => {
    const { keyId, key } = newApiKey();
    for (const bad of [
      '',
      'obelm_dev_0123456789abcdef0123456789abcdef0123456789abcdef', // the old dev key format
      key.slice(0, -1), // secret too short
      `${key}x`, // too long
      key.replace(keyId, keyId.toUpperCase()),
      ` ${key}`,
      key.replace('obelm_', 'other_'),
    ]) {
      expect(keyIdOf(bad), bad).toBeUndefined();
    }
  });

  it('are stored as the SHA-256 of the whole key, in hex: the secret never is', () => {
    const { key } = newApiKey();
    const hash = hashApiKey(key);
    expect(hash).toBe(createHash('sha256').update(key).digest('hex'));
    expect(hash).toMatch(/^[0-9a-f]{64}$/);
    // Another secret under the same id hashes differently.
    const other = `${key.slice(0, -1)}${key.endsWith('A') ? 'B' : 'A'}`;
    expect(keyIdOf(other)).toBe(keyIdOf(key));
    expect(hashApiKey(other)).not.toBe(hash);
  });
});

describe('tenant limits', () => {
  it("are the tenant's overrides over the stage's defaults", () => {
    const stage = { ...DEFAULT_TENANT_LIMITS, requestsPerSecond: 50 };
    expect(effectiveLimits(stage, undefined)).toEqual(stage);
    expect(effectiveLimits(stage, { limits: {} })).toEqual(stage);
    expect(effectiveLimits(stage, { limits: { maxSteps: 50, monthlyGpuSeconds: 3600 } })).toEqual({
      ...stage,
      maxSteps: 50,
      monthlyGpuSeconds: 3600,
    });
  });

  it('refuse an unknown limit or an out-of-range one', () => {
    expect(TenantLimitsOverrideSchema.safeParse({ requestsPerSecond: 0 }).success).toBe(false);
    expect(TenantLimitsOverrideSchema.safeParse({ requestsPerSecond: 1.5 }).success).toBe(false);
    expect(TenantLimitsOverrideSchema.safeParse({ rps: 5 }).success).toBe(false);
    expect(TenantLimitsOverrideSchema.safeParse({ monthlyBudgetMicros: 0 }).success).toBe(true);
  });
});
