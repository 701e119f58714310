import type { DiffusionModel } from '@obelm/engine';
import { ModelError } from '../runtime/errors.ts';
import type { ExecutionProvider } from '../runtime/session.ts';
import type { BundleManifest } from './manifest.ts';

/** A loaded bundle: the engine's DiffusionModel plus what the host needs to manage it. */
export interface LoadedModel extends DiffusionModel {
  readonly manifest: BundleManifest;
  /** The execution provider the sessions actually use (after any fallback to cpu). */
  readonly provider: ExecutionProvider;
  /** Releases the onnxruntime sessions. */
  close(): Promise<void>;
}

/** Refuses a model timestep outside the training schedule (the eps of every bundle kind indexes by it). */
export function assertTimestep(t: number, trainTimesteps: number): void {
  if (!Number.isInteger(t) || t < 0 || t >= trainTimesteps) {
    throw new ModelError(
      'model_bad_input',
      `timestep must be an integer in [0, ${trainTimesteps}), got ${t}`,
    );
  }
}
