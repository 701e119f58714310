/**
 * The SDK's typed errors. Every one is an ObelmError with a stable `code`, so a caller can switch on `code`
 * without knowing which class it came from.
 */
export class ObelmError extends Error {
  override readonly name: string = 'ObelmError';
  constructor(
    readonly code: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** An error answer of the API: its HTTP status and the body's `code`, `message` and `details`. */
export class ObelmApiError extends ObelmError {
  override readonly name = 'ObelmApiError';
  constructor(
    readonly status: number,
    code: string,
    message: string,
    /** What was wrong (the field or values at fault); `invalid_request`: the list of issues. */
    readonly details: unknown,
    /** The API's `x-request-id`, to quote when reporting a problem. */
    readonly requestId?: string,
    /** Seconds the API asked to wait before retrying (`Retry-After`). */
    readonly retryAfterSeconds?: number,
  ) {
    super(code, message);
  }

  /**
   * From an error response and its (already read) body. A body that is not the API's error shape (a gateway's
   * page, say) still gives an error: code `http_<status>` and the text as message.
   */
  static from(response: Response, body: unknown): ObelmApiError {
    const requestId = response.headers.get('x-request-id') ?? undefined;
    const retryAfter = parseRetryAfterSeconds(response.headers.get('retry-after'));
    const error = (body as { error?: { code?: unknown; message?: unknown; details?: unknown } } | null)
      ?.error;
    if (error && typeof error.code === 'string') {
      const message = typeof error.message === 'string' ? error.message : error.code;
      return new ObelmApiError(response.status, error.code, message, error.details, requestId, retryAfter);
    }
    const text = typeof body === 'string' && body ? body.slice(0, 500) : response.statusText;
    return new ObelmApiError(
      response.status,
      `http_${response.status}`,
      `HTTP ${response.status}: ${text}`,
      {},
      requestId,
      retryAfter,
    );
  }
}

/** The request never got an answer (DNS, refused connection, reset...); `cause` is fetch's error. */
export class ObelmNetworkError extends ObelmError {
  override readonly name = 'ObelmNetworkError';
  constructor(
    readonly url: string,
    cause: unknown,
  ) {
    super('network_error', `Request to ${url} failed: ${(cause as Error)?.message ?? String(cause)}`, {
      cause,
    });
  }
}

/** waitForJob's `timeoutMs` passed before the job finished; `job` is its last state seen. */
export class ObelmTimeoutError extends ObelmError {
  override readonly name = 'ObelmTimeoutError';
  constructor(
    readonly jobId: string,
    readonly timeoutMs: number,
  ) {
    super('wait_timeout', `Job ${jobId} did not finish within ${timeoutMs} ms`);
  }
}

/** The presigned upload form was refused by storage (too large, wrong type, expired), or a download failed. */
export class ObelmTransferError extends ObelmError {
  override readonly name = 'ObelmTransferError';
  constructor(
    code: 'upload_rejected' | 'download_failed',
    readonly status: number,
    message: string,
  ) {
    super(code, message);
  }
}

/** A webhook whose signature, timestamp or headers do not verify. */
export class ObelmWebhookVerificationError extends ObelmError {
  override readonly name = 'ObelmWebhookVerificationError';
  constructor(message: string, options?: { cause?: unknown }) {
    super('invalid_webhook_signature', message, options);
  }
}

/** `Retry-After` in seconds (the API sends seconds; an HTTP date is read too). Undefined when absent or bad. */
export function parseRetryAfterSeconds(value: string | null, now = Date.now()): number | undefined {
  if (value === null || value.trim() === '') return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds);
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, (at - now) / 1000);
}
