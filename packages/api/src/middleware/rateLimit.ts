import type { MiddlewareObj } from '@middy/core';
import { ApiError } from '@obelm/core';
import { countRequest } from '@obelm/store';
import type { DepsProvider } from '../deps.ts';
import type { HttpEvent, HttpResult } from '../http.ts';
import type { AuthedEvent } from './auth.ts';

/**
 * Requests per second per API key (the tenant's `requestsPerSecond`): one counter per key and second in the
 * table, shared by every container. Runs after auth and before the handler, so a refused request does nothing
 * else; it is counted, so a client that keeps hammering stays refused until it slows down.
 */
export function rateLimit(deps: DepsProvider): MiddlewareObj<HttpEvent, HttpResult> {
  return {
    name: 'rateLimit',
    before: async (request) => {
      const { caller } = request.event as AuthedEvent;
      const { store } = deps();
      const limit = caller.limits.requestsPerSecond;
      if ((await countRequest(store, caller.keyId, store.now())) > limit) {
        throw new ApiError(
          429,
          'rate_limited',
          `Over ${limit} requests per second for API key ${caller.keyId}; retry after 1 s`,
          { limit },
          { retryAfterSeconds: 1 },
        );
      }
    },
  };
}
