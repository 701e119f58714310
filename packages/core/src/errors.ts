import { API_ERRORS, type ApiErrorCode, type ApiErrorCodeOf, type ApiErrorStatus } from './errorCatalog.ts';

/**
 * The base of every typed error of every package: callers switch on `code`, a stable snake_case string, and
 * people read `message`. Each package narrows `code` to its own union; classify() (classify.ts) decides what
 * a job does with any error from this one base.
 */
export class CodedError<Code extends string = string> extends Error {
  /** Structured context for the caller (e.g. the field that was wrong); never needed to tell errors apart. */
  declare readonly details?: unknown;

  constructor(
    readonly code: Code,
    message: string,
    options?: { readonly cause?: unknown; readonly details?: unknown },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    if (options?.details !== undefined) this.details = options.details;
  }
}

/**
 * The one error type the API shows to callers: an HTTP status, a stable machine-readable code, a human message
 * and details (at least the field or the values at fault). The status must be the code's in the catalog
 * (errorCatalog.ts); the type-check refuses another. Everything else that escapes a handler is a 500
 * `internal_error`, or a 503 `service_unavailable` when a backing service failed for a while.
 */
export class ApiError<C extends ApiErrorCode = ApiErrorCode> extends CodedError<C> {
  override readonly name = 'ApiError';
  declare readonly details: object;
  /** Seconds the caller should wait before retrying (429s): the response's `Retry-After` header. */
  declare readonly retryAfterSeconds?: number;
  constructor(
    readonly status: ApiErrorStatus<C>,
    code: C,
    message: string,
    details: object,
    options?: { readonly retryAfterSeconds?: number },
  ) {
    super(code, message, { details });
    if (options?.retryAfterSeconds !== undefined) this.retryAfterSeconds = options.retryAfterSeconds;
  }

  toBody(): { error: { code: C; message: string; details: object } } {
    return { error: { code: this.code, message: this.message, details: this.details } };
  }
}

export const badRequest = <C extends ApiErrorCodeOf<400>>(code: C, message: string, details: object) =>
  new ApiError<C>(API_ERRORS[code].status as ApiErrorStatus<C>, code, message, details);
export const notFound = <C extends ApiErrorCodeOf<404>>(code: C, message: string, details: object) =>
  new ApiError<C>(API_ERRORS[code].status as ApiErrorStatus<C>, code, message, details);
export const conflict = <C extends ApiErrorCodeOf<409>>(code: C, message: string, details: object) =>
  new ApiError<C>(API_ERRORS[code].status as ApiErrorStatus<C>, code, message, details);
