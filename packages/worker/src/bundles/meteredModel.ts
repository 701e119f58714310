import { type DiffusionModel, EngineError } from '@obelm/engine';
import { ModelError, SessionHostDied } from '@obelm/models';
import { WorkerError } from '../errors.ts';

/** A model as one job sees it: its model calls, and the model time billed to it. */
export interface MeteredModel {
  readonly model: DiffusionModel;
  /**
   * Milliseconds of encode / decode / embed / eps billed to the job so far: its share of each call it shared
   * with other jobs (the batcher's split by rows), what a GPU job is billed for.
   */
  modelMs(): number;
}

/**
 * Wraps a job's view of the model (its batch member) so that anything a model call throws becomes
 * WorkerError('model_error'), unless the job was aborted. That is how a runtime failure is told apart from a bug
 * in the worker itself: the first fails the job, the second leaves it to be retried. The death of the process's
 * onnxruntime thread is not the job's model failing either: it is retried too (the session reopens in a fresh
 * thread on its next call), with the attempt counted, so a job that keeps killing the thread ends. Its time is
 * the member's.
 */
export function meterModel(member: MeteredModel, signal: AbortSignal): MeteredModel {
  const { model } = member;
  const typed =
    <A extends unknown[], R>(name: string, call: (...args: A) => Promise<R>) =>
    async (...args: A): Promise<R> => {
      try {
        return await call(...args);
      } catch (error) {
        if (signal.aborted || isCallerError(error) || error instanceof SessionHostDied) throw error;
        const reason = error instanceof Error ? error.message : String(error);
        throw new WorkerError('model_error', `model '${model.id}' failed in ${name}: ${reason}`, {
          cause: error,
        });
      }
    };
  const metered: DiffusionModel = {
    id: model.id,
    schedule: model.schedule,
    defaults: model.defaults,
    latentShape: model.latentShape,
    imageSize: model.imageSize,
    encode: typed('encode', model.encode.bind(model)),
    decode: typed('decode', model.decode.bind(model)),
    embed: typed('embed', model.embed.bind(model)),
    eps: typed('eps', model.eps.bind(model)),
    ...(model.epsRows ? { epsRows: typed('eps', model.epsRows.bind(model)) } : {}),
  };
  return { model: metered, modelMs: () => member.modelMs() };
}

function isCallerError(error: unknown): boolean {
  if (error instanceof ModelError) return error.inputAtFault;
  // Engine validation (bad steps, weights...) and engine aborts are not the model's failure either.
  return error instanceof EngineError;
}
