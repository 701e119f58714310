import type { DiffusionModel } from '@obelm/engine';
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
