import { ObelmNetworkError, parseRetryAfterSeconds } from './errors.ts';

/** How failed calls are retried: at most `attempts` tries, exponential backoff from `baseMs` capped at `maxMs`. */
export interface RetryOptions {
  /** Tries in all, the first included (1: never retry). Default 4. */
  attempts?: number;
  /** First backoff, doubled per try (full jitter). Default 500. */
  baseMs?: number;
  /** Longest single wait; a `Retry-After` longer than this is not waited for (the error is thrown). Default 20 000. */
  maxMs?: number;
}

export const DEFAULT_RETRY: Required<RetryOptions> = { attempts: 4, baseMs: 500, maxMs: 20_000 };

/** The fetch the client calls: one Request in, one Response out (globalThis.fetch fits). */
export type FetchLike = (input: Request) => Promise<Response>;

/** Rate limited, or the service briefly unavailable: the request was not carried out, so try again. */
const RETRYABLE_STATUSES = new Set([429, 503]);

/**
 * Whether repeating the request after a lost answer cannot do anything twice: reads and deletes, and creates that
 * carry an Idempotency-Key (the API answers a repeat with the original job).
 */
const isIdempotent = (request: Request): boolean =>
  request.method === 'GET' || request.method === 'DELETE' || request.headers.has('idempotency-key');

/** Full jitter: a random wait up to the exponential bound, so many clients do not retry in step. */
export const backoffMs = (attempt: number, options: Required<RetryOptions>): number =>
  Math.random() * Math.min(options.maxMs, options.baseMs * 2 ** (attempt - 1));

/** Waits `ms`, or rejects with the signal's reason as soon as it aborts. */
export function sleep(ms: number, signal?: AbortSignal | null): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * `fetchImpl` with retries: a 429 or 503 is tried again after its `Retry-After` (plus a little jitter) or a
 * jittered backoff, and a network error likewise when the request is idempotent; other network errors become
 * ObelmNetworkError at once. The last answer is returned as is, for the caller to turn into an error.
 */
export function retryingFetch(fetchImpl: FetchLike, retry: RetryOptions = {}): FetchLike {
  const options = { ...DEFAULT_RETRY, ...retry };
  return async (request) => {
    for (let attempt = 1; ; attempt++) {
      const last = attempt >= options.attempts;
      let response: Response;
      try {
        // A Request's body can be read once: every try but the last sends a copy.
        response = await fetchImpl(last ? request : request.clone());
      } catch (err) {
        if (request.signal.aborted) throw request.signal.reason ?? err;
        if (last || !isIdempotent(request)) throw new ObelmNetworkError(request.url, err);
        await sleep(backoffMs(attempt, options), request.signal);
        continue;
      }
      if (last || !RETRYABLE_STATUSES.has(response.status)) return response;
      const retryAfter = parseRetryAfterSeconds(response.headers.get('retry-after'));
      const waitMs =
        retryAfter === undefined
          ? backoffMs(attempt, options)
          : retryAfter * 1000 + Math.random() * Math.min(options.baseMs, 1000);
      if (waitMs > options.maxMs) return response;
      await response.body?.cancel();
      await sleep(waitMs, request.signal);
    }
  };
}
