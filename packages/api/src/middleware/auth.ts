import { timingSafeEqual } from 'node:crypto';
import type { MiddlewareObj } from '@middy/core';
import {
  ApiError,
  AUTH_CACHE_MS,
  effectiveLimits,
  hashApiKey,
  keyIdOf,
  type TenantLimits,
} from '@obelm/core';
import { getKey, getTenant } from '@obelm/store';
import type { DepsProvider } from '../deps.ts';
import { type HttpEvent, type HttpResult, header } from '../http.ts';

/**
 * `details.reason`: `missing` (no bearer key sent), `unknown` (not a key, or of no tenant), `revoked`,
 * `suspended` (the key's tenant is).
 */
type Reason = 'missing' | 'unknown' | 'revoked' | 'suspended';
const unauthorized = (reason: Reason, message: string) =>
  new ApiError(401, 'unauthorized', message, { header: 'Authorization', reason });

/** The authenticated caller, attached to the event by the auth middleware. */
export interface Caller {
  tenant: string;
  /** The public id of the key the request was made with (logs, the rate limit). */
  keyId: string;
  /** The tenant's limits (its overrides over the stage's defaults), as of the key's last read. */
  limits: TenantLimits;
}
export type AuthedEvent = HttpEvent & { caller: Caller };

const sameHash = (a: string, b: string) =>
  a.length === b.length && timingSafeEqual(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));

/**
 * `Authorization: Bearer <api key>`: the key names its item (core tenants.ts: `obelm_<keyId>_<secret>`), whose
 * stored SHA-256 must match the key's, then its tenant's item, which must be active. The same path runs in the
 * cloud and locally (the local stack seeds a dev tenant and key). A verified key is trusted for AUTH_CACHE_MS
 * per container, so a revoked key or a suspended tenant is refused everywhere within that; misses are not
 * cached, so a new key works at once.
 */
export function apiKeyAuth(deps: DepsProvider): MiddlewareObj<HttpEvent, HttpResult> {
  const cache = new Map<string, { caller: Caller; until: number }>();
  const verify = async (key: string): Promise<Caller> => {
    const { store, config } = deps();
    const keyId = keyIdOf(key);
    const item = keyId === undefined ? undefined : await getKey(store, keyId);
    if (!keyId || !item || !sameHash(hashApiKey(key), item.secretHash)) {
      throw unauthorized('unknown', 'Unknown API key');
    }
    if (item.status !== 'active') throw unauthorized('revoked', `API key ${keyId} has been revoked`);
    const tenant = await getTenant(store, item.tenant);
    if (!tenant) throw unauthorized('unknown', `API key ${keyId} belongs to no tenant`);
    if (tenant.status !== 'active') throw unauthorized('suspended', `Tenant ${tenant.tenant} is suspended`);
    return { tenant: tenant.tenant, keyId, limits: effectiveLimits(config.OBELM_TENANT_LIMITS, tenant) };
  };
  return {
    name: 'apiKeyAuth',
    before: async (request) => {
      const match = /^Bearer\s+(\S+)\s*$/i.exec(header(request.event, 'authorization') ?? '');
      if (!match?.[1]) throw unauthorized('missing', 'Missing API key: send Authorization: Bearer <key>');
      const key = match[1];
      // By the key's hash: the cache holds no secret.
      const hash = hashApiKey(key);
      const now = Date.now();
      let hit = cache.get(hash);
      if (!hit || hit.until <= now) {
        cache.delete(hash);
        hit = { caller: await verify(key), until: now + AUTH_CACHE_MS };
        forgetExpired(cache, now);
        cache.set(hash, hit);
      }
      (request.event as AuthedEvent).caller = hit.caller;
    },
  };
}

/** Keeps a long-lived container's cache to the keys used in the last few seconds. */
function forgetExpired(cache: Map<string, { until: number }>, now: number): void {
  if (cache.size < 1000) return;
  for (const [hash, entry] of cache) if (entry.until <= now) cache.delete(hash);
}
