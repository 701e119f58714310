import { classify } from '@obelm/core';
import type { DiffusionModel } from '@obelm/engine';
import { WorkerError } from '../errors.ts';

export type ModelLoader = (bundleId: string) => Promise<DiffusionModel>;

/**
 * Loads each model bundle once per process and shares it between jobs. A failed load is not cached, so a
 * transient failure (an S3 hiccup while fetching a bundle) does not poison the process.
 *
 * A load error becomes a typed job error (the job fails at once), except a transient one: that is rethrown
 * as is, so the job is retried like after any unexpected error (execute.ts).
 */
export class ModelCache {
  private readonly loaded = new Map<string, Promise<DiffusionModel>>();

  constructor(private readonly load: ModelLoader) {}

  get(bundleId: string): Promise<DiffusionModel> {
    let model = this.loaded.get(bundleId);
    if (!model) {
      model = this.load(bundleId).catch((error: unknown) => {
        this.loaded.delete(bundleId);
        // Already typed (e.g. model_not_found): keep its code.
        if (error instanceof WorkerError) throw error;
        // S3 or the network, not the bundle: the same bundle may load on the next attempt.
        if (classify(error).kind === 'transient') throw error;
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
