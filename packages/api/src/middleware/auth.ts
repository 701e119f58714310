import { createHash } from 'node:crypto';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import type { MiddlewareObj } from '@middy/core';
import { ApiError, type ApiKeyItem, dbKeys } from '@obelm/core';
import type { DepsProvider } from '../deps.ts';
import { type HttpEvent, type HttpResult, header } from '../http.ts';

/** How long a verified key is trusted without reading DynamoDB again (a revoked key stops within this). */
const CACHE_MS = 60_000;

export const hashApiKey = (key: string): string => createHash('sha256').update(key, 'utf8').digest('hex');

/** `details.reason`: `missing` (no bearer key sent) or `unknown` (not a key, or a revoked one). */
const unauthorized = (reason: 'missing' | 'unknown', message: string) =>
  new ApiError(401, 'unauthorized', message, { header: 'Authorization', reason });

/** The authenticated caller, attached to the event by the auth middleware. */
export interface Caller {
  tenant: string;
}
export type AuthedEvent = HttpEvent & { caller: Caller };

/**
 * `Authorization: Bearer <api key>`: the key's SHA-256 names its DynamoDB item (only hashes are stored),
 * which gives the tenant. The same path runs in the cloud and locally (the local stack seeds a dev key).
 * Hits are cached briefly per container; misses are not, so a new key works at once.
 */
export function apiKeyAuth(deps: DepsProvider): MiddlewareObj<HttpEvent, HttpResult> {
  const cache = new Map<string, { caller: Caller; until: number }>();
  return {
    name: 'apiKeyAuth',
    before: async (request) => {
      const match = /^Bearer\s+(\S+)\s*$/i.exec(header(request.event, 'authorization') ?? '');
      if (!match?.[1]) throw unauthorized('missing', 'Missing API key: send Authorization: Bearer <key>');
      const hash = hashApiKey(match[1]);
      const now = Date.now();
      let hit = cache.get(hash);
      if (!hit || hit.until < now) {
        const { db, config } = deps();
        const { Item } = await db.send(
          new GetCommand({ TableName: config.OBELM_TABLE, Key: dbKeys.apiKey(hash) }),
        );
        const item = Item as ApiKeyItem | undefined;
        if (item?.status !== 'active') {
          cache.delete(hash);
          throw unauthorized('unknown', 'Unknown or revoked API key');
        }
        hit = { caller: { tenant: item.tenant }, until: now + CACHE_MS };
        cache.set(hash, hit);
      }
      (request.event as AuthedEvent).caller = hit.caller;
    },
  };
}
