import { CodedError } from './errors.ts';
import type { JobError } from './jobs.ts';

/**
 * What a job does with an error that stopped its run:
 * - job: the request or the model is at fault, and running it again gives the same answer; the job ends
 *   `failed` with this code and message;
 * - transient: S3, the network or a throttle failed for a while; the job is run again from the queue;
 * - unexpected: a bug (or a fault nobody typed); the job is run again, and the attempt counts towards
 *   OBELM_MAX_ATTEMPTS so a crash loop ends.
 */
export type ErrorClass =
  | { readonly kind: 'job'; readonly error: JobError }
  | { readonly kind: 'transient' }
  | { readonly kind: 'unexpected' };

/**
 * Classifies any thrown value. A typed error (a CodedError of any package) is the job's own failure, except
 * `aborted`: a run stopped from outside is settled by whoever stopped it, and one nobody stopped is a bug.
 * The typed check comes first, so a typed failure whose cause was a dropped connection still ends the job
 * with its code (the code's author decided it was final).
 */
export function classify(error: unknown): ErrorClass {
  if (error instanceof CodedError && error.code !== 'aborted') {
    return { kind: 'job', error: { code: error.code, message: error.message } };
  }
  return isTransient(error, 0) ? { kind: 'transient' } : { kind: 'unexpected' };
}

/** Error names the AWS SDK gives throttling and timeouts (S3 answers an overloaded prefix with 503 SlowDown). */
const transientNames = new Set([
  'SlowDown',
  'Throttling',
  'ThrottlingException',
  'TooManyRequestsException',
  'RequestLimitExceeded',
  'TimeoutError',
  'RequestTimeout',
  'RequestTimeoutException',
]);

/** Node codes of a connection that dropped, was refused or timed out, or a DNS lookup that may work next time. */
const transientCodes = new Set(['ECONNRESET', 'ECONNREFUSED', 'ETIMEDOUT', 'EPIPE', 'EAI_AGAIN']);

/** The parts of an AWS SDK service error (or a Node system error) that say whether it may pass. */
interface ErrorShape {
  readonly $retryable?: unknown;
  readonly $metadata?: { readonly httpStatusCode?: number };
  readonly name?: unknown;
  readonly code?: unknown;
  readonly cause?: unknown;
}

/**
 * Whether an error is a passing fault of S3 or the network rather than a fault of what was asked for: an
 * SDK error marked retryable, an HTTP 5xx or 429, a throttling or timeout error, or a dropped connection
 * (also when wrapped as another error's cause). Such an error got past the SDK's own retries, but a job that
 * failed for it would blame a good model bundle for a bad minute. Shapes only: core does not load the SDK.
 */
function isTransient(error: unknown, depth: number): boolean {
  if (typeof error !== 'object' || error === null || depth > 5) return false;
  const { $retryable, $metadata, name, code, cause } = error as ErrorShape;
  const status = $metadata?.httpStatusCode ?? 0;
  return (
    $retryable !== undefined ||
    status >= 500 ||
    status === 429 ||
    transientNames.has(String(name)) ||
    transientCodes.has(String(code)) ||
    isTransient(cause, depth + 1)
  );
}
