import { CodedError } from '@obelm/core';

/** Stable codes for everything that can go wrong while building, loading or running a model. */
export type ModelErrorCode =
  | 'onnx_invalid_graph'
  | 'runtime_load_failed'
  | 'provider_unavailable'
  | 'runtime_bad_feed'
  | 'prompt_no_match'
  | 'bundle_not_found'
  | 'bundle_invalid_manifest'
  | 'bundle_unknown_kind'
  | 'model_bad_input';

/** A typed error of the models package: callers switch on `code`, people read `message`. */
export class ModelError extends CodedError<ModelErrorCode> {
  override readonly name = 'ModelError';

  /** Whether what the model was given is at fault (a prompt it cannot read), not the model itself. */
  get inputAtFault(): boolean {
    return inputCodes.has(this.code);
  }

  /**
   * Whether the machine is at fault (the requested execution provider cannot load here), not the model or
   * its input: no model can load in this process, so a worker should stop rather than fail job after job.
   */
  get hostAtFault(): boolean {
    return this.code === 'provider_unavailable';
  }
}

const inputCodes: ReadonlySet<ModelErrorCode> = new Set(['prompt_no_match', 'model_bad_input']);
