import type { JobError } from '@obelm/core';

/**
 * The typed errors that end a job `failed` with their own code: bad input the worker found (image, noise,
 * engine validation) and model failures. Anything else is unexpected and the job is retried instead.
 */
const jobErrorNames = new Set([
  'WorkerError',
  'ImageError',
  'NoiseFileError',
  'EngineError',
  'ModelError',
  'TokenizerError',
]);

/** Model errors that are the caller's fault (a prompt the model cannot read), not the model's. */
export const callerModelErrorCodes = new Set(['prompt_no_match', 'model_bad_input']);

export function jobErrorOf(error: unknown): JobError | undefined {
  if (!(error instanceof Error) || !jobErrorNames.has(error.name)) return undefined;
  const code = (error as { code?: unknown }).code;
  if (typeof code !== 'string' || code === 'aborted') return undefined;
  return { code, message: error.message };
}
