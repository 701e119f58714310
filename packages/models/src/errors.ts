/**
 * The base of every typed error of the models package: callers (the worker) switch on `code`, which is a stable
 * snake_case string, and people read `message`. Each area narrows `code` to its own union.
 */
export class CodedError<Code extends string> extends Error {
  constructor(
    readonly code: Code,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
