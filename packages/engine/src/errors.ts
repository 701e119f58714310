import { CodedError } from '@obelm/core/errors';

/** Stable codes for every way a caller can misuse the engine (or stop it). */
export type EngineErrorCode =
  | 'invalid_schedule'
  | 'invalid_steps'
  | 'invalid_sampler'
  | 'invalid_state'
  | 'invalid_target'
  | 'invalid_freeze'
  | 'invalid_seed'
  | 'invalid_guidance'
  | 'invalid_weights'
  | 'shape_mismatch'
  | 'non_finite_state'
  | 'aborted';

/** A typed engine error: `code` is stable and machine-readable, `message` says what was wrong. */
export class EngineError extends CodedError<EngineErrorCode> {
  override readonly name = 'EngineError';
}

/** Throws `aborted` if the signal has fired; called between steps so a cancel lands within one step. */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new EngineError('aborted', 'the run was aborted');
}
