import { REQUEST_ID_HEADER } from '@obelm/api';
import { API_CORS, ROUTE_SPECS } from '@obelm/core';
import { describe, expect, it } from 'vitest';

/** The API's CORS (core API_CORS, which infra/api.ts hands to API Gateway) lets a page use every route. */
describe('API CORS', () => {
  it("allows every route's method, and the headers the client sends", () => {
    expect([...API_CORS.allowMethods].sort()).toEqual([...new Set(ROUTE_SPECS.map((r) => r.method))].sort());
    // A preflight's wildcard does not cover Authorization: it must be named.
    expect(API_CORS.allowHeaders).toEqual(
      expect.arrayContaining(['authorization', 'content-type', 'idempotency-key']),
    );
  });

  it('shows a page the headers it needs to retry and to report a request', () => {
    expect(API_CORS.exposeHeaders).toEqual(expect.arrayContaining(['retry-after', REQUEST_ID_HEADER]));
  });

  it('admits any origin without credentials (browsers refuse a wildcard origin with credentials)', () => {
    expect(API_CORS.allowOrigins).toEqual(['*']);
    expect(API_CORS.allowCredentials).toBe(false);
    expect(API_CORS.maxAgeSeconds).toBeLessThanOrEqual(86_400); // API Gateway's limit
  });
});
