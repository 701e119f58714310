import type { IncomingMessage } from 'node:http';
import type { BucketCorsRule } from '@obelm/core';
import { S3Refusal } from './errors.ts';

/** The bucket's CORS: its rule (core BUCKET_CORS) and the origins allowed now (read at each request). */
export interface BucketCors {
  rule: BucketCorsRule;
  origins: () => readonly string[];
}

/** S3's origin and header patterns: case-insensitive, at most one `*` matching any run of characters. */
function matches(pattern: string, value: string): boolean {
  const [head = '', ...tail] = pattern.toLowerCase().split('*');
  const text = value.toLowerCase();
  if (tail.length === 0) return text === head;
  const end = tail.join('*');
  return text.length >= head.length + end.length && text.startsWith(head) && text.endsWith(end);
}

const originAllowed = (cors: BucketCors, origin: string) =>
  cors.origins().some((pattern) => matches(pattern, origin));

/** The headers S3 adds for an allowed origin: the origin itself (`*` for a wildcard rule), methods, exposed headers. */
function allowHeaders(cors: BucketCors, origin: string): Record<string, string> {
  const { rule } = cors;
  return {
    'access-control-allow-origin': cors.origins().includes('*') ? '*' : origin,
    'access-control-allow-methods': rule.allowedMethods.join(', '),
    ...(rule.exposeHeaders.length ? { 'access-control-expose-headers': rule.exposeHeaders.join(', ') } : {}),
    'access-control-max-age': String(rule.maxAgeSeconds),
    vary: 'Origin, Access-Control-Request-Headers, Access-Control-Request-Method',
  };
}

/**
 * CORS headers for a request that is not a preflight: S3 adds them when the request has an `Origin` the rule
 * allows for its method, and none otherwise (the request itself is served either way; the browser hides it).
 */
export function corsHeaders(req: IncomingMessage, cors: BucketCors | undefined): Record<string, string> {
  const origin = req.headers.origin;
  const method = req.method ?? 'GET';
  if (!cors || !origin || !cors.rule.allowedMethods.some((m) => m === method)) return {};
  return originAllowed(cors, origin) ? allowHeaders(cors, origin) : {};
}

/**
 * Answers a preflight (OPTIONS) as S3 does: 400 without `Origin` or `Access-Control-Request-Method`, 403 when the
 * rule does not allow the origin, the method or every requested header, else 200 with the allowed headers.
 */
export function preflight(req: IncomingMessage, cors: BucketCors | undefined): Record<string, string> {
  const origin = req.headers.origin;
  if (!origin)
    throw new S3Refusal(400, 'BadRequest', 'Insufficient information. Origin request header needed.');
  const method = req.headers['access-control-request-method'];
  if (!method) throw new S3Refusal(400, 'BadRequest', 'Invalid Access-Control-Request-Method: null');
  if (!cors)
    throw new S3Refusal(403, 'AccessForbidden', 'CORSResponse: CORS is not enabled for this bucket.');
  const requested = (req.headers['access-control-request-headers'] ?? '')
    .split(',')
    .map((name) => name.trim().toLowerCase())
    .filter(Boolean);
  const allowed =
    originAllowed(cors, origin) &&
    cors.rule.allowedMethods.some((m) => m === method) &&
    requested.every((name) => cors.rule.allowedHeaders.some((pattern) => matches(pattern, name)));
  if (!allowed)
    throw new S3Refusal(
      403,
      'AccessForbidden',
      "CORSResponse: This CORS request is not allowed. This is usually because the evalution of Origin, request method / Access-Control-Request-Method or Access-Control-Request-Headers are not whitelisted by the resource's CORS spec.",
    );
  return {
    ...allowHeaders(cors, origin),
    ...(requested.length ? { 'access-control-allow-headers': requested.join(', ') } : {}),
  };
}
