import { ROUTE_SPECS } from './routes.ts';

/**
 * The public API's CORS, for browsers calling it from another origin (the playground's static site, anyone's web
 * app). Any origin may call: the API knows no cookies or other ambient credentials (credentials stay off), only
 * the API key a page puts in the Authorization header, and a page holding a key could use it from a server just
 * as well. CORS guards ambient authority, which there is none of, so restricting origins would protect nothing
 * and would tie the API to the site's URL, while the site is built with the API's URL (a cycle).
 */
export const API_CORS = {
  allowOrigins: ['*'],
  /** Every method a route answers (core ROUTE_SPECS); preflights are answered for them. */
  allowMethods: [...new Set(ROUTE_SPECS.map((spec) => spec.method))],
  allowHeaders: ['authorization', 'content-type', 'idempotency-key'],
  /** Headers the API answers with that a page reads: retry delays, the request id support asks for, replays. */
  exposeHeaders: ['retry-after', 'x-request-id', 'idempotent-replayed'],
  /** Seconds a browser may reuse a preflight (Chromium caps it at 2 hours, API Gateway at a day). */
  maxAgeSeconds: 7200,
  allowCredentials: false,
} as const;

/** A bucket CORS rule without its origins (those are the stage's), in S3's CORSRule terms. */
export interface BucketCorsRule {
  allowedMethods: readonly ('GET' | 'PUT' | 'POST' | 'DELETE' | 'HEAD')[];
  /** Request headers a preflight may ask for; `*` matches any. */
  allowedHeaders: readonly string[];
  exposeHeaders: readonly string[];
  maxAgeSeconds: number;
}

/**
 * The bucket's browser rule: pages upload straight to S3 with the presigned POST of POST /v1/uploads (PUT for
 * presigned PUTs) and fetch outputs with presigned GETs. Headers `*`: the presigned form decides what is stored,
 * and the signature, not CORS, guards the bucket. The local S3 stand-in answers CORS by the same rule.
 */
export const BUCKET_CORS: BucketCorsRule = {
  allowedMethods: ['POST', 'PUT', 'GET', 'HEAD'],
  allowedHeaders: ['*'],
  exposeHeaders: ['ETag'],
  maxAgeSeconds: 3600,
};

/** The origin (`scheme://host[:port]`) of a URL, as a browser sends it in `Origin` and CORS rules list it. */
export const originOf = (url: string): string => new URL(url).origin;
