import { describeError, type Logger } from '@obelm/core';
import type { DiffusionModel } from '@obelm/engine';
import { SessionHostDied } from '@obelm/models';
import {
  type BatchMode,
  type BatchModeChoice,
  chooseBatchMode,
  createModelBatcher,
  type ModelBatcher,
} from '../batching/index.ts';
import { WorkerError } from '../errors.ts';

/** A loaded model with the batcher its jobs share, in the mode its provider's kernels allow. */
export interface BatchedModel {
  readonly model: DiffusionModel;
  readonly batcher: ModelBatcher;
  readonly mode: BatchMode;
  /** Rows of the batcher's calls at most (in 'padded' mode, exactly). */
  readonly maxBatchRows: number;
}

/** One batcher per loaded model and batch limit in this process, however many workers run in it. */
const batchers = new WeakMap<DiffusionModel, Map<number, Promise<BatchedModel>>>();

/**
 * The batcher of `model`: made on first use, after a bitwise check that a row's eps is the same alone and in
 * every batch size up to `maxBatchRows` ('batched'); where it is not (GPU kernels chosen by batch size), every
 * call is padded to exactly `maxBatchRows` rows ('padded'), so each row always meets the same kernels. Where
 * even that is not exact (a row's eps depends on its neighbours at that size), every call carries one row.
 * Jobs at different steps share calls too where the model has `epsRows` (a [batch] timestep) and its rows pass
 * the same check at mixed timesteps, in 'batched' mode.
 * Run once per model per process, and logged. A check that throws is the model's failure: the job fails typed,
 * and the next job that needs the model checks again.
 */
export function batchedModel(
  model: DiffusionModel,
  maxBatchRows: number,
  log: Logger,
): Promise<BatchedModel> {
  const byRows = batchers.get(model) ?? new Map<number, Promise<BatchedModel>>();
  batchers.set(model, byRows);
  let batched = byRows.get(maxBatchRows);
  if (!batched) {
    batched = makeBatched(model, maxBatchRows, log).catch((error: unknown) => {
      byRows.delete(maxBatchRows);
      throw error;
    });
    byRows.set(maxBatchRows, batched);
  }
  return batched;
}

async function makeBatched(model: DiffusionModel, maxBatchRows: number, log: Logger): Promise<BatchedModel> {
  const started = performance.now();
  let choice: BatchModeChoice;
  try {
    choice = await chooseBatchMode(model, maxBatchRows);
  } catch (error) {
    // The onnxruntime thread died under the check (any job's call may kill it): not the model's failure; the
    // job is retried and the next one checks again.
    if (error instanceof SessionHostDied) throw error;
    log.error('batch invariance check failed', { model: model.id, ...describeError(error) });
    const reason = error instanceof Error ? error.message : String(error);
    throw new WorkerError('model_error', `model '${model.id}' failed its batch invariance check: ${reason}`, {
      cause: error,
    });
  }
  const rows = choice.exact ? maxBatchRows : 1;
  const line = {
    model: model.id,
    mode: choice.mode,
    mixedTimesteps: choice.mixedTimesteps,
    maxBatchRows: rows,
    failedSizes: choice.invariance.failed,
    ...(choice.invariance.mixedTimesteps
      ? { failedMixedSizes: choice.invariance.mixedTimesteps.failed }
      : {}),
    checkMs: Math.round(performance.now() - started),
  };
  if (choice.exact) log.info('model batching', line);
  else log.warn('model rows are not exact at any shared batch shape; every call carries one row', line);
  const batcher = createModelBatcher(model, {
    maxBatchRows: rows,
    mode: choice.mode,
    mixedTimesteps: choice.mixedTimesteps,
  });
  return { model, batcher, mode: choice.mode, maxBatchRows: rows };
}
