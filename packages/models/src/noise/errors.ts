import { CodedError } from '@obelm/core';

/** Why a noise artifact was refused; stable strings the API maps to a 400 response. */
export type NoiseErrorCode =
  | 'noise_truncated'
  | 'noise_invalid_header'
  | 'noise_wrong_dtype'
  | 'noise_wrong_shape'
  | 'noise_invalid_metadata'
  | 'noise_incompatible';

/** A noise artifact that is malformed, or that does not belong to the run it was offered to. */
export class NoiseFileError extends CodedError<NoiseErrorCode> {
  override readonly name = 'NoiseFileError';
  constructor(
    code: NoiseErrorCode,
    message: string,
    /** For 'noise_incompatible': the first metadata field that differs (e.g. 'steps', 'schedule.spacing'). */
    readonly field?: string,
  ) {
    super(code, message);
  }
}
