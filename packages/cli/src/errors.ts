/**
 * Exit codes of the obelm command line: 0 done; 1 a failure of the API, the network or anything else; 2 a
 * command line it cannot run; 3 a job that ended failed, canceled or expired.
 */
export const EXIT = { ok: 0, failure: 1, usage: 2, job: 3 } as const;

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

/** A job that ended without succeeding: exit code 3. */
export const jobError = (message: string) => new CliError(message, EXIT.job);
