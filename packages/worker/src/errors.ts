import { CodedError } from '@obelm/core';

/**
 * Codes a job can fail with, besides the image / noise / engine codes passed through from those packages.
 * - input_not_found: an input object or the noise job it names is gone.
 * - invalid_job: the job item cannot be run as written (e.g. a kind without its inputs).
 * - model_error: the model could not be loaded or failed while running.
 * - model_not_found: the job names a model whose bundle does not exist (an empty S3 prefix).
 * - too_many_attempts: the job crashed its worker OBELM_MAX_ATTEMPTS times.
 */
export type WorkerErrorCode =
  | 'input_not_found'
  | 'invalid_job'
  | 'model_error'
  | 'model_not_found'
  | 'too_many_attempts';

/** A job-level failure with a stable code: the job ends `failed` with this code and message. */
export class WorkerError extends CodedError<WorkerErrorCode> {
  override readonly name = 'WorkerError';
}
