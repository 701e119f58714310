import { CodedError } from '../errors.ts';

/** Stable codes for everything that can go wrong while building, loading or running a model. */
export type ModelErrorCode =
  | 'onnx_invalid_graph'
  | 'runtime_load_failed'
  | 'runtime_bad_feed'
  | 'prompt_no_match'
  | 'bundle_not_found'
  | 'bundle_invalid_manifest'
  | 'bundle_unknown_kind'
  | 'model_bad_input';

/** A typed error of the models package: callers switch on `code`, people read `message`. */
export class ModelError extends CodedError<ModelErrorCode> {
  override readonly name = 'ModelError';
}
