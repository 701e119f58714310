import { type DiffusionModel, EngineError } from '@obelm/engine';
import { ModelError } from '@obelm/models';
import { WorkerError } from '../errors.ts';

/** A model wrapped for one job: counts the time spent inside model calls and types its failures. */
export interface MeteredModel {
  readonly model: DiffusionModel;
  /** Milliseconds spent inside encode / decode / embed / eps so far: what a GPU job is billed for. */
  modelMs(): number;
}

/**
 * Wraps `model` so that (1) the time inside each call adds to `modelMs()` and (2) anything a model call throws
 * becomes WorkerError('model_error'), unless the job was aborted. That is how a runtime failure is told
 * apart from a bug in the worker itself: the first fails the job, the second leaves it to be retried.
 */
export function meterModel(model: DiffusionModel, signal: AbortSignal): MeteredModel {
  let total = 0;
  const timed =
    <A extends unknown[], R>(name: string, call: (...args: A) => Promise<R>) =>
    async (...args: A): Promise<R> => {
      const start = performance.now();
      try {
        return await call(...args);
      } catch (error) {
        if (signal.aborted || isCallerError(error)) throw error;
        const reason = error instanceof Error ? error.message : String(error);
        throw new WorkerError('model_error', `model '${model.id}' failed in ${name}: ${reason}`, {
          cause: error,
        });
      } finally {
        total += performance.now() - start;
      }
    };
  const metered: DiffusionModel = {
    id: model.id,
    schedule: model.schedule,
    defaults: model.defaults,
    latentShape: model.latentShape,
    imageSize: model.imageSize,
    encode: timed('encode', model.encode.bind(model)),
    decode: timed('decode', model.decode.bind(model)),
    embed: timed('embed', model.embed.bind(model)),
    eps: timed('eps', model.eps.bind(model)),
  };
  return { model: metered, modelMs: () => total };
}

function isCallerError(error: unknown): boolean {
  if (error instanceof ModelError) return error.inputAtFault;
  // Engine validation (bad steps, weights...) and engine aborts are not the model's failure either.
  return error instanceof EngineError;
}
