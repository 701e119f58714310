import type { DiffusionModel, Embedding, Tensor } from '@obelm/engine';
import { addDeviceTime, measureDeviceTime } from '@obelm/models';

/** Wall time of one stub call: `fixedMs + perRowMs * rows` (a UNet call's economics on a GPU). */
export interface StubGpuCost {
  readonly fixedMs: number;
  readonly perRowMs: number;
}

export const DEFAULT_STUB_GPU_COST: StubGpuCost = { fixedMs: 15, perRowMs: 1 };

/** A stub GPU model and how long its eps calls kept it busy. */
export interface StubGpuModel extends DiffusionModel {
  /** Time an eps call was running on the stub GPU, in ms (calls run one at a time, in the order posted). */
  busyMs(): number;
  /** Eps calls made (eps and epsRows), and their rows. */
  calls(): { readonly calls: number; readonly rows: number };
}

/**
 * For scheduler benches and tests on a CPU: `base`'s answers (e.g. the demo model's eps, bit for bit) at a GPU's
 * cost, so batching gains are measured honestly. Each eps call lasts `fixedMs + perRowMs * rows` of wall time (or
 * the base call's own time, if longer) without blocking the event loop, as a CPU waiting on a GPU would; calls
 * posted while one runs wait their turn, as on a GPU. It has epsRows exactly when `base` has (at the same cost).
 * encode / decode / embed pass straight through.
 */
export function stubGpuModel(base: DiffusionModel, cost: StubGpuCost = DEFAULT_STUB_GPU_COST): StubGpuModel {
  let busy = 0;
  /** When the call on the stub GPU now started, if one is running. */
  let runningSince: number | undefined;
  let calls = 0;
  let rows = 0;
  /** The calls posted so far, in turn: a GPU runs one at a time, so a call posted behind another waits for it. */
  let turn: Promise<unknown> = Promise.resolve();
  /** One call at the GPU's cost: the base's answer, no earlier than the stub's wall time. */
  const timed = (x: Tensor, answer: () => Promise<Float64Array>): Promise<Float64Array> => {
    const batch = x.shape[0] ?? 1;
    calls++;
    rows += batch;
    const result = turn.then(async () => {
      const started = performance.now();
      runningSince = started;
      try {
        const gpuTime = new Promise((resolve) => setTimeout(resolve, cost.fixedMs + cost.perRowMs * batch));
        // The base's own device time is not this device's: its measurement is dropped.
        const [eps] = await Promise.all([measureDeviceTime(answer, () => {}), gpuTime]);
        return eps;
      } finally {
        const ms = performance.now() - started;
        busy += ms;
        runningSince = undefined;
        // What a job is billed for this call, as a real session's host reports an inference's time.
        addDeviceTime(ms);
      }
    });
    turn = result.catch(() => {});
    return result;
  };
  const epsRows = base.epsRows;
  return {
    id: base.id,
    schedule: base.schedule,
    defaults: base.defaults,
    latentShape: base.latentShape,
    imageSize: base.imageSize,
    encode: (pixels, signal) => base.encode(pixels, signal),
    decode: (latent, signal) => base.decode(latent, signal),
    embed: (prompt, signal) => base.embed(prompt, signal),
    eps: (x, t, emb, signal) => timed(x, () => base.eps(x, t, emb, signal)),
    ...(epsRows
      ? {
          epsRows: (x: Tensor, t: Float64Array, emb: Embedding, signal?: AbortSignal) =>
            timed(x, () => epsRows(x, t, emb, signal)),
        }
      : {}),
    busyMs: () => busy + (runningSince === undefined ? 0 : performance.now() - runningSince),
    calls: () => ({ calls, rows }),
  };
}
