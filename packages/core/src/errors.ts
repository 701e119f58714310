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
 * and optional details. Everything else that escapes a handler is a 500 `internal_error`.
 */
export class ApiError extends CodedError {
  override readonly name = 'ApiError';
  constructor(
    readonly status: number,
    code: string,
    message: string,
    details?: unknown,
  ) {
    super(code, message, { details });
  }

  toBody(): { error: { code: string; message: string; details?: unknown } } {
    return {
      error: {
        code: this.code,
        message: this.message,
        ...(this.details === undefined ? {} : { details: this.details }),
      },
    };
  }
}

export const badRequest = (code: string, message: string, details?: unknown) =>
  new ApiError(400, code, message, details);
export const notFound = (code: string, message: string) => new ApiError(404, code, message);
export const conflict = (code: string, message: string, details?: unknown) =>
  new ApiError(409, code, message, details);
