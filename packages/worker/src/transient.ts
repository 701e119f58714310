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
 * failed for it would blame a good model bundle for a bad minute; the job is retried from the queue instead,
 * and OBELM_MAX_ATTEMPTS still ends one whose bundle never comes.
 */
export function isTransientError(error: unknown, depth = 0): boolean {
  if (typeof error !== 'object' || error === null || depth > 5) return false;
  const { $retryable, $metadata, name, code, cause } = error as ErrorShape;
  const status = $metadata?.httpStatusCode ?? 0;
  return (
    $retryable !== undefined ||
    status >= 500 ||
    status === 429 ||
    transientNames.has(String(name)) ||
    transientCodes.has(String(code)) ||
    isTransientError(cause, depth + 1)
  );
}
