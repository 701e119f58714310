/** Exit codes of the obelm command line. */
export const EXIT = { ok: 0, failure: 1, usage: 2 } as const;

/** A failure told in one line (`obelm: <message>`), with its exit code; anything else is a bug. */
export class CliError extends Error {
  override readonly name = 'CliError';
  constructor(
    message: string,
    readonly exitCode: number = EXIT.failure,
  ) {
    super(message);
  }
}

/** A command line the program cannot run: exit code 2. */
export const usageError = (message: string) => new CliError(message, EXIT.usage);
