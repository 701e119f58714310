import { createLogger } from '@obelm/core';
import type { DiffusionModel } from '@obelm/engine';
import { ModelError, SessionHostDied } from '@obelm/models';
import { describe, expect, it } from 'vitest';
import { batchedModel } from '../src/bundles/batchedModel.ts';
import { meterModel } from '../src/bundles/meteredModel.ts';
import { ModelCache } from '../src/bundles/modelCache.ts';
import { WorkerError } from '../src/errors.ts';

/**
 * Which model failures fail a job (model_error) and which pass through to be retried, at each place a model
 * is used: its load, its batch invariance check, its calls in a run.
 */

/** A model whose every call throws `error`. */
function failing(error: unknown): DiffusionModel {
  const fail = async (): Promise<never> => {
    throw error;
  };
  return {
    id: 'failing',
    schedule: { betas: new Float64Array(1) } as unknown as DiffusionModel['schedule'],
    defaults: {} as DiffusionModel['defaults'],
    latentShape: [1, 1, 1],
    imageSize: [1, 1],
    encode: fail,
    decode: fail,
    embed: fail,
    eps: fail,
  };
}

const x = { data: new Float64Array(1), shape: [1, 1, 1, 1] };
const emb = { data: new Float32Array(1), shape: [1, 1] };

describe('meterModel', () => {
  it("makes a model's own failure a job error, and leaves the caller's and the host thread's as they are", async () => {
    const signal = new AbortController().signal;
    const call = (error: unknown) =>
      meterModel({ model: failing(error), modelMs: () => 0 }, signal).model.eps(x, 1, emb);

    // The model failed: the job fails with model_error.
    await expect(call(new Error('CUDA error: illegal address'))).rejects.toMatchObject({
      name: 'WorkerError',
      code: 'model_error',
      message: "model 'failing' failed in eps: CUDA error: illegal address",
    });
    // What the model was given is at fault: the typed error stays.
    const prompt = new ModelError('prompt_no_match', 'no such prompt');
    await expect(call(prompt)).rejects.toBe(prompt);
    // The process's onnxruntime thread died: not the job's model, so not a job error (it is retried).
    const died = new SessionHostDied('the onnxruntime session host thread was stopped');
    const thrown = await call(died).catch((error: unknown) => error);
    expect(thrown).toBe(died);
    expect(thrown).not.toBeInstanceOf(WorkerError);
  });
});

const died = () => new SessionHostDied('the onnxruntime session host thread was stopped');

describe('ModelCache', () => {
  it("makes a bundle's failure to load a job error, and passes the host thread's death through, uncached", async () => {
    let loads = 0;
    let fault: Error = new Error('protobuf parsing failed');
    const cache = new ModelCache(async () => {
      loads++;
      throw fault;
    });
    await expect(cache.get('demo')).rejects.toMatchObject({ name: 'WorkerError', code: 'model_error' });
    fault = died();
    const thrown = await cache.get('demo').catch((error: unknown) => error);
    expect(thrown).toBe(fault);
    // Not cached: the next job loads again.
    await cache.get('demo').catch(() => {});
    expect(loads).toBe(3);
  });
});

describe('batchedModel', () => {
  it("makes a failed invariance check the model's job error, and passes the host thread's death through", async () => {
    const log = createLogger('test');
    await expect(batchedModel(failing(new Error('CUDA error')), 2, log)).rejects.toMatchObject({
      name: 'WorkerError',
      code: 'model_error',
    });
    const death = died();
    const model = failing(death);
    expect(await batchedModel(model, 2, log).catch((error: unknown) => error)).toBe(death);
  });
});
