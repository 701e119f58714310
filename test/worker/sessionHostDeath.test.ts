import { loadConfig, type WorkerConfig, WorkerConfigSchema } from '@obelm/core';
import type { DiffusionModel } from '@obelm/engine';
import { stopSessionThread } from '@obelm/models/testing';
import { loadModelBundle, type ModelLoader, startWorker } from '@obelm/worker';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createJob, startTestStack, type TestStack, waitForJob } from '../e2e/helpers.ts';
import { outputsOf } from '../reliability/helpers.ts';

/**
 * The process's onnxruntime thread (models runtime/sessionThread.ts) dies while a job's model call is in flight:
 * that job is retried, not failed, the worker goes on, the model's sessions open again in a fresh thread, and
 * the retried run gives the bytes of a run that never saw the death.
 */

let t: TestStack;
beforeAll(async () => {
  t = await startTestStack();
  Object.assign(process.env, t.stack.env);
});
afterAll(async () => {
  await t?.stop();
});

/** The worker's own model, which stops the session thread just after posting the first eps call once `armed`. */
function killingLoader(config: WorkerConfig) {
  const state = { armed: false, killed: false };
  const loader: ModelLoader = async (id) => {
    const model = await loadModelBundle(id, config);
    const killing =
      <A extends unknown[]>(call: (...args: A) => Promise<Float64Array>) =>
      (...args: A) => {
        const answer = call(...args);
        if (state.armed && !state.killed) {
          state.killed = true;
          // The call is posted and its answer not yet seen: the stop fails it at once.
          void stopSessionThread();
        }
        return answer;
      };
    // The demo bundle's model is a plain object: spread, it keeps everything but the calls replaced.
    const wrapped: DiffusionModel = {
      ...model,
      eps: killing(model.eps.bind(model)),
      ...(model.epsRows ? { epsRows: killing(model.epsRows.bind(model)) } : {}),
    };
    return wrapped;
  };
  return { loader, state };
}

it('retries the job whose call the dying thread took, and the rerun has the bytes of an undisturbed run', async () => {
  const config = loadConfig(WorkerConfigSchema, t.workerEnv);
  const { loader, state } = killingLoader(config);
  const worker = startWorker(config, { loadModel: loader });
  try {
    const request = { kind: 'sample', prompt: 'red circle', seed: 7, steps: 10, guidance: 2 };
    // Undisturbed first (it also loads the model and runs its invariance check).
    const undisturbed = await waitForJob(t.stack, (await createJob(t.stack, request)).id);
    expect(undisturbed.status, JSON.stringify(undisturbed.error)).toBe('succeeded');

    state.armed = true;
    const job = await createJob(t.stack, request);
    const done = await waitForJob(t.stack, job.id);
    expect(state.killed).toBe(true);
    expect(done.status, JSON.stringify(done.error)).toBe('succeeded');
    const [got, want] = await Promise.all([outputsOf(done), outputsOf(undisturbed)]);
    expect(got.report.attempt).toBe(2); // the first attempt was the one the thread's death took
    expect(got.image.equals(want.image)).toBe(true);
    expect(got.noise.equals(want.noise)).toBe(true);
  } finally {
    await worker.stop();
  }
});
