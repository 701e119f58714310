import { ApiError, badRequest } from '@obelm/core';
import type { z } from 'zod';
import { type HttpEvent, MAX_BODY_BYTES } from './http.ts';

/** Parses the JSON body: 413 `payload_too_large` over the limit, 400 `malformed_json` when it does not parse. */
export function readJsonBody(event: HttpEvent, { optional = false } = {}): unknown {
  const raw = event.body ?? '';
  const bytes = event.isBase64Encoded ? Buffer.from(raw, 'base64') : Buffer.from(raw, 'utf8');
  if (bytes.length > MAX_BODY_BYTES) {
    throw new ApiError(413, 'payload_too_large', `Request body exceeds ${MAX_BODY_BYTES} bytes`, {
      maxBytes: MAX_BODY_BYTES,
    });
  }
  const text = bytes.toString('utf8');
  if (text.trim() === '') {
    if (optional) return {};
    throw badRequest('malformed_json', 'Request body must be a JSON object', { reason: 'empty' });
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    const reason = (err as Error).message;
    throw badRequest('malformed_json', `Request body is not valid JSON: ${reason}`, { reason });
  }
}

/**
 * Validates `input` with a zod schema. An unknown field becomes `unknown_field` naming it (so a typo is
 * obvious); every other problem is `invalid_request` with each issue's path and message in details.
 */
export function parseWith<S extends z.ZodType>(schema: S, input: unknown): z.output<S> {
  const parsed = schema.safeParse(input);
  if (parsed.success) return parsed.data;
  const issues = parsed.error.issues;
  const unknown = issues.find((i) => i.code === 'unrecognized_keys');
  if (unknown && unknown.code === 'unrecognized_keys') {
    const field = [...unknown.path, unknown.keys[0]].join('.');
    throw badRequest('unknown_field', `Unknown field '${field}'`, { field, fields: unknown.keys });
  }
  const details = issues.map((i) => ({ path: i.path.join('.'), message: i.message }));
  const first = details[0];
  throw badRequest(
    'invalid_request',
    first ? `${first.path || 'request'}: ${first.message}` : 'Invalid request',
    details,
  );
}
