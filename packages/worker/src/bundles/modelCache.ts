import { classify } from '@obelm/core';
import type { DiffusionModel } from '@obelm/engine';
import { ModelError, SessionHostDied } from '@obelm/models';
import { WorkerError } from '../errors.ts';

export type ModelLoader = (bundleId: string) => Promise<DiffusionModel>;

/**
 * Whether a load failed because of this machine, not the bundle: the requested GPU provider cannot load, so
 * no model loads in this process and a worker must stop rather than fail (or retry) job after job.
 */
export const isHostFault = (error: unknown): error is ModelError =>
  error instanceof ModelError && error.hostAtFault;

/**
 * Loads each model bundle once per process and shares it between jobs. A failed load is not cached, so a
 * transient failure (an S3 hiccup while fetching a bundle) does not poison the process.
 *
 * A load error becomes a typed job error (the job fails at once), except a transient one or the session
 * thread's death (SessionHostDied): those are rethrown as is, so the job is retried like after any unexpected
 * error (execute.ts). A host fault (isHostFault) is
 * rethrown as is too, after telling the onHostFault listeners: the workers stop, and the job in hand goes back
 * to the queue for another machine.
 */
export class ModelCache {
  private readonly loaded = new Map<string, Promise<DiffusionModel>>();
  private readonly hostFaultListeners = new Set<(error: ModelError) => void>();

  constructor(private readonly load: ModelLoader) {}

  /** Calls `listener` when a load fails because of this machine; returns the function that unsubscribes. */
  onHostFault(listener: (error: ModelError) => void): () => void {
    this.hostFaultListeners.add(listener);
    return () => this.hostFaultListeners.delete(listener);
  }

  get(bundleId: string): Promise<DiffusionModel> {
    let model = this.loaded.get(bundleId);
    if (!model) {
      model = this.load(bundleId).catch((error: unknown) => {
        this.loaded.delete(bundleId);
        if (isHostFault(error)) {
          // Before the job sees the error: a worker that stops now settles its job as stopped, not failed.
          for (const listener of this.hostFaultListeners) listener(error);
          throw error;
        }
        // Already typed (e.g. model_not_found): keep its code.
        if (error instanceof WorkerError) throw error;
        // S3 or the network, not the bundle: the same bundle may load on the next attempt. Nor is the
        // onnxruntime thread dying under the load (another job's call may have killed it): retried, as in a run.
        if (classify(error).kind === 'transient' || error instanceof SessionHostDied) throw error;
        const reason = error instanceof Error ? error.message : String(error);
        throw new WorkerError('model_error', `model bundle '${bundleId}' could not be loaded: ${reason}`, {
          cause: error,
        });
      });
      this.loaded.set(bundleId, model);
    }
    return model;
  }
}
