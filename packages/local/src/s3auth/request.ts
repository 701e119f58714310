import type { IncomingMessage } from 'node:http';
import { accessDenied } from './errors.ts';
import type { SignableRequest } from './signer.ts';

/** What signing covers of an incoming request: method, the raw path, the decoded query, lower-cased headers. */
export interface RequestParts {
  method: string;
  /** As sent (still URI-encoded): S3 signs the path the client wrote, without normalising it. */
  path: string;
  query: Record<string, string | string[]>;
  headers: Record<string, string>;
}

export const decode = (text: string) => {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
};

export function requestParts(req: IncomingMessage): RequestParts {
  const url = req.url ?? '/';
  const at = url.indexOf('?');
  const query: Record<string, string | string[]> = {};
  if (at >= 0) {
    for (const pair of url.slice(at + 1).split('&')) {
      if (!pair) continue;
      const eq = pair.indexOf('=');
      // `?uploads` and `?uploads=` sign the same: a key with an empty value.
      const key = decode(eq < 0 ? pair : pair.slice(0, eq));
      const value = eq < 0 ? '' : decode(pair.slice(eq + 1));
      const prior = query[key];
      query[key] = prior === undefined ? value : [...(Array.isArray(prior) ? prior : [prior]), value];
    }
  }
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headersDistinct)) if (value) headers[name] = value.join(',');
  return { method: req.method ?? 'GET', path: at >= 0 ? url.slice(0, at) : url, query, headers };
}

/** The first value of a query parameter. */
export const queryValue = (parts: RequestParts, name: string): string | undefined => {
  const value = parts.query[name];
  return Array.isArray(value) ? value[0] : value;
};

/**
 * The request as the client signed it: only the named headers (plus `extra`, which carry the payload hash or date
 * without being signed unless named), so headers a proxy or client adds after signing do not count.
 */
export function signable(
  parts: RequestParts,
  signedHeaders: readonly string[],
  query: Record<string, string | string[]>,
  extra: Record<string, string> = {},
): SignableRequest {
  const headers: Record<string, string> = { ...extra };
  for (const name of signedHeaders) {
    const value = parts.headers[name];
    if (value !== undefined) headers[name] = value;
  }
  const host = parts.headers['host'] ?? '';
  return { method: parts.method, protocol: 'http:', hostname: host, path: parts.path, query, headers };
}

/**
 * S3 refuses a request carrying an x-amz-* header its signature does not cover: otherwise a header added after
 * signing (x-amz-copy-source, x-amz-acl, x-amz-meta-*) would change what a signed request does.
 */
export function requireSignedAmzHeaders(parts: RequestParts, signedHeaders: readonly string[]): void {
  const unsigned = Object.keys(parts.headers).filter(
    (name) => name.startsWith('x-amz-') && !signedHeaders.includes(name),
  );
  if (unsigned.length)
    throw accessDenied(
      `There were headers present in the request which were not signed: ${unsigned.join(', ')}`,
    );
}
