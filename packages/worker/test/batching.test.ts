import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type ConditionalEpsPredictor,
  type DiffusionModel,
  type Embedding,
  gaussianNoise,
  sample,
  type Tensor,
} from '@obelm/engine';
import { type LoadedModel, loadBundle } from '@obelm/models';
import { writeTinySdBundle, writeTinySdExport } from '@obelm/models/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkBatchInvariance, chooseBatchMode, createModelBatcher } from '../src/batching/index.ts';
import { stubGpuModel } from '../src/batching/stubGpuModel.ts';

const dir = mkdtempSync(join(tmpdir(), 'obelm-batching-'));
let demo: LoadedModel;
/** One row of the demo model's latent. */
const ROW = 3 * 32 * 32;
/** Middle of the training schedule. */
const T = 500;

beforeAll(async () => {
  demo = await loadBundle('demo', { provider: 'cpu', cacheDir: join(dir, 'models') });
});
afterAll(async () => {
  await demo.close();
  rmSync(dir, { recursive: true, force: true });
});

const bytes = (a: Float64Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

/** `rows` rows of seeded noise, and the demo's unconditional embedding repeated. */
async function input(seed: number, rows: number): Promise<{ x: Tensor; emb: Embedding }> {
  const uncond = await demo.embed('');
  const emb = new Float32Array(rows * uncond.data.length);
  for (let r = 0; r < rows; r++) emb.set(uncond.data, r * uncond.data.length);
  return {
    x: { data: gaussianNoise(seed, rows * ROW), shape: [rows, 3, 32, 32] },
    emb: { data: emb, shape: [rows, ...uncond.shape.slice(1)] },
  };
}

/** The demo model with its eps replaced, e.g. to record or hold calls. */
const withEps = (eps: ConditionalEpsPredictor): DiffusionModel => ({ ...demo, eps });

/** The demo model recording the rows of each eps call. */
function recording(): { model: DiffusionModel; calls: number[] } {
  const calls: number[] = [];
  const model = withEps((x, t, emb, signal) => {
    calls.push(x.shape[0]!);
    return demo.eps(x, t, emb, signal);
  });
  return { model, calls };
}

/** The demo model whose eps calls wait until `release()`. */
function gated(): { model: DiffusionModel; calls: number[]; release(): void } {
  const calls: number[] = [];
  let open!: () => void;
  const gate = new Promise<void>((resolve) => {
    open = resolve;
  });
  const model = withEps(async (x, t, emb) => {
    calls.push(x.shape[0]!);
    await gate;
    return demo.eps(x, t, emb);
  });
  return { model, calls, release: () => open() };
}

/**
 * The demo model whose eps calls each wait for their own `answerNext()`, oldest first (a GPU's order); given an
 * error, that call fails with it.
 */
function stepped(): { model: DiffusionModel; calls: number[]; answerNext(error?: Error): void } {
  const calls: number[] = [];
  const gates: ((error?: Error) => void)[] = [];
  const model = withEps(async (x, t, emb) => {
    calls.push(x.shape[0]!);
    await new Promise<void>((resolve, reject) => gates.push((error) => (error ? reject(error) : resolve())));
    return demo.eps(x, t, emb);
  });
  return { model, calls, answerNext: (error) => gates.shift()!(error) };
}

/** The demo model recording each model call's rows and timesteps, and whether it came through epsRows. */
function recordingRows(epsRows = demo.epsRows!) {
  const calls: { rows: number; timesteps: number[]; via: 'eps' | 'epsRows' }[] = [];
  const model: DiffusionModel = {
    ...demo,
    eps: (x, t, emb, signal) => {
      calls.push({ rows: x.shape[0]!, timesteps: [t], via: 'eps' });
      return demo.eps(x, t, emb, signal);
    },
    epsRows: (x, t, emb, signal) => {
      calls.push({ rows: x.shape[0]!, timesteps: [...t], via: 'epsRows' });
      return epsRows(x, t, emb, signal);
    },
  };
  return { model, calls };
}

/** Lets pending timers and I/O callbacks run (no timing is asserted). */
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const settleTurns = () => sleep(20);

describe('createModelBatcher', () => {
  it('merges the calls of waiting members into one call whose rows are bitwise each caller alone', async () => {
    const { model, calls } = recording();
    const batcher = createModelBatcher(model, { maxBatchRows: 8, mode: 'batched' });
    const members = [1, 2, 1].map(() => batcher.join());
    const inputs = await Promise.all([input(1, 1), input(2, 2), input(3, 1)]);
    const merged = await Promise.all(members.map((m, i) => m.model.eps(inputs[i]!.x, T, inputs[i]!.emb)));
    expect(calls).toEqual([4]);
    for (const [i, { x, emb }] of inputs.entries()) {
      expect(bytes(merged[i]!).equals(bytes(await demo.eps(x, T, emb)))).toBe(true);
    }
    expect(members[1]!.stats()).toMatchObject({ calls: 1, rows: 2, maxCallRows: 4, maxCallMembers: 3 });
  });

  it('keeps calls at different t apart and splits a call larger than maxBatchRows, still exactly', async () => {
    const { model, calls } = recording();
    const batcher = createModelBatcher(model, { maxBatchRows: 3, mode: 'batched' });
    const [a, b, c] = [batcher.join(), batcher.join(), batcher.join()];
    const [big, small, other] = await Promise.all([input(4, 5), input(5, 1), input(6, 1)]);
    const answers = await Promise.all([
      a!.model.eps(big.x, T, big.emb),
      b!.model.eps(small.x, T, small.emb),
      c!.model.eps(other.x, T + 1, other.emb),
    ]);
    // a's 5 rows and b's 1 at T fill two calls of 3; c's call at T + 1 runs on its own.
    expect(calls).toEqual([3, 3, 1]);
    expect(bytes(answers[0]!).equals(bytes(await demo.eps(big.x, T, big.emb)))).toBe(true);
    expect(bytes(answers[1]!).equals(bytes(await demo.eps(small.x, T, small.emb)))).toBe(true);
    expect(bytes(answers[2]!).equals(bytes(await demo.eps(other.x, T + 1, other.emb)))).toBe(true);
  });

  it('runs concurrent sample jobs byte-identical to their solo runs', async () => {
    const batcher = createModelBatcher(demo, { maxBatchRows: 8, mode: 'batched' });
    const jobs = [
      { seed: 11, prompt: 'red circle', guidance: 2 },
      { seed: 12, prompt: 'blue square', guidance: 1 },
      { seed: 13, prompt: 'green triangle', guidance: 3 },
    ];
    const together = await Promise.all(
      jobs.map(async (job) => {
        const member = batcher.join();
        try {
          return await sample(member.model, { ...job, steps: 6 });
        } finally {
          member.leave();
        }
      }),
    );
    for (const [i, job] of jobs.entries()) {
      const solo = await sample(demo, { ...job, steps: 6 });
      expect(bytes(together[i]!.image.data).equals(bytes(solo.image.data))).toBe(true);
      const [state, soloState] = [together[i]!.state, solo.state];
      expect(state.kind === 'pair' && soloState.kind === 'pair').toBe(true);
      if (state.kind === 'pair' && soloState.kind === 'pair') {
        expect(bytes(state.lower).equals(bytes(soloState.lower))).toBe(true);
        expect(bytes(state.upper).equals(bytes(soloState.upper))).toBe(true);
      }
    }
    // Guidance 1 gives 1-row calls, guidance > 1 2-row ones: all merged into 5-row calls.
    expect(batcher.stats().realRows / batcher.stats().calls).toBe(5);
  });

  it('waits for every member, never for one that left, and only a bounded time for a busy one', async () => {
    const { model, calls } = recording();
    const batcher = createModelBatcher(model, { maxBatchRows: 8, mode: 'batched', maxWaitMs: 3_600_000 });
    const [busy, caller] = [batcher.join(), batcher.join()];
    const { x, emb } = await input(7, 1);
    let answered = false;
    const call = caller.model.eps(x, T, emb).then((eps) => {
      answered = true;
      return eps;
    });
    await settleTurns();
    expect([answered, calls]).toEqual([false, []]); // an hour's wait for `busy`...
    busy.leave();
    expect(bytes(await call).equals(bytes(await demo.eps(x, T, emb)))).toBe(true); // ...ends when it leaves

    // With the default bound, a member that never calls holds the others up only briefly.
    const bounded = createModelBatcher(demo, { maxBatchRows: 8, mode: 'batched' });
    bounded.join();
    const alone = bounded.join();
    expect(bytes(await alone.model.eps(x, T, emb)).equals(bytes(await demo.eps(x, T, emb)))).toBe(true);
  });

  it('rejects an aborted member alone, queued or in flight, and answers the others exactly', async () => {
    const { model, calls, release } = gated();
    const batcher = createModelBatcher(model, { maxBatchRows: 8, mode: 'batched', maxWaitMs: 3_600_000 });
    const [a, b, c] = [batcher.join(), batcher.join(), batcher.join()];
    const [ia, ib, ic] = await Promise.all([input(8, 1), input(9, 2), input(10, 1)]);

    // Queued: c's rows never reach the model.
    const cAbort = new AbortController();
    const cCall = c!.model.eps(ic.x, T, ic.emb, cAbort.signal);
    cAbort.abort(new Error('c canceled'));
    await expect(cCall).rejects.toThrow('c canceled');
    c!.leave();

    // In flight: a's promise rejects at once; b gets its answer when the shared call ends.
    const aAbort = new AbortController();
    const aCall = a!.model.eps(ia.x, T, ia.emb, aAbort.signal);
    const bCall = b!.model.eps(ib.x, T, ib.emb);
    await settleTurns();
    expect(calls).toEqual([3]);
    aAbort.abort(new Error('a canceled'));
    await expect(aCall).rejects.toThrow('a canceled');
    release();
    expect(bytes(await bCall).equals(bytes(await demo.eps(ib.x, T, ib.emb)))).toBe(true);
  });

  it('rejects every caller of a failed shared call, and the next call works', async () => {
    let fail = true;
    const model = withEps((x, t, emb) => {
      if (fail) throw new Error('device lost');
      return demo.eps(x, t, emb);
    });
    const batcher = createModelBatcher(model, { maxBatchRows: 8, mode: 'batched' });
    const [a, b] = [batcher.join(), batcher.join()];
    const [ia, ib] = await Promise.all([input(12, 1), input(13, 1)]);
    const results = await Promise.allSettled([a!.model.eps(ia.x, T, ia.emb), b!.model.eps(ib.x, T, ib.emb)]);
    expect(results.map((r) => r.status === 'rejected' && String(r.reason))).toEqual([
      'Error: device lost',
      'Error: device lost',
    ]);
    fail = false;
    b!.leave();
    expect(bytes(await a!.model.eps(ia.x, T, ia.emb)).equals(bytes(await demo.eps(ia.x, T, ia.emb)))).toBe(
      true,
    );
  });

  it('pads every call, solo ones too, to maxBatchRows in padded mode, with the same answers', async () => {
    const { model, calls } = recording();
    const batcher = createModelBatcher(model, { maxBatchRows: 4, mode: 'padded' });
    const [a, b] = [batcher.join(), batcher.join()];
    const [ia, ib] = await Promise.all([input(14, 1), input(15, 2)]);
    const merged = await Promise.all([a!.model.eps(ia.x, T, ia.emb), b!.model.eps(ib.x, T, ib.emb)]);
    b!.leave();
    const solo = await a!.model.eps(ia.x, T, ia.emb);
    expect(calls).toEqual([4, 4]);
    expect(batcher.stats()).toMatchObject({ calls: 2, realRows: 4, paddingRows: 4 });
    const reference = await demo.eps(ia.x, T, ia.emb);
    expect(bytes(merged[0]!).equals(bytes(reference)) && bytes(solo).equals(bytes(reference))).toBe(true);
    expect(bytes(merged[1]!).equals(bytes(await demo.eps(ib.x, T, ib.emb)))).toBe(true);
  });

  it('posts a call behind the running one when a round takes two calls anyway: two cohorts take turns', async () => {
    const { model, calls, answerNext } = stepped();
    const batcher = createModelBatcher(model, { maxBatchRows: 4, mode: 'batched', maxWaitMs: 3_600_000 });
    const members = [0, 1, 2, 3, 4, 5].map(() => batcher.join());
    const inputs = await Promise.all(members.map((_, i) => input(20 + i, 2)));
    const start = performance.now();
    /** Each member's calls at T, T + 1, ...: `steps` of them, one after another, as a job's steps are. */
    const run = (steps: number) =>
      Promise.all(
        members.map(async (member, i) => {
          const answers: Float64Array[] = [];
          for (let k = 0; k < steps; k++)
            answers.push(await member.model.eps(inputs[i]!.x, T + k, inputs[i]!.emb));
          return answers;
        }),
      );
    const running = run(2);
    await settleTurns();
    // 12 rows waiting, 4 a call: two full calls posted at once (the second runs the moment the first ends), and
    // no third while both are unanswered.
    expect(calls).toEqual([4, 4]);
    answerNext();
    await settleTurns();
    // The first cohort came back with its next step: its call is posted behind the second, with the third
    // cohort's still waiting (12 rows take three calls a round, whoever waits).
    expect(calls).toEqual([4, 4, 4]);
    for (let k = 0; k < 3; k++) {
      answerNext();
      await settleTurns();
    }
    expect(calls).toEqual([4, 4, 4, 4, 4, 4]);
    answerNext();
    answerNext();
    const answers = await running;
    const wallMs = performance.now() - start;
    for (const [i, { x, emb }] of inputs.entries()) {
      for (const k of [0, 1]) {
        expect(bytes(answers[i]![k]!).equals(bytes(await demo.eps(x, T + k, emb)))).toBe(true);
      }
    }
    // A call posted behind another is billed from that one's answer: the shares sum to the model's time, which
    // is no more than the wall time.
    const { busyMs } = batcher.stats();
    expect(members.reduce((sum, m) => sum + m.modelMs(), 0)).toBeCloseTo(busyMs, 6);
    expect(busyMs).toBeLessThanOrEqual(wallMs);

    // Three members of 1 row fit one call of 4: the round waits for all of them, as before.
    const one = recording();
    const small = createModelBatcher(one.model, { maxBatchRows: 4, mode: 'batched', maxWaitMs: 3_600_000 });
    const trio = [0, 1, 2].map(() => small.join());
    const single = await Promise.all(trio.map((_, i) => input(30 + i, 1)));
    await Promise.all(trio.map((m, i) => m.model.eps(single[i]!.x, T, single[i]!.emb)));
    expect(one.calls).toEqual([3]);
  });

  it('fails only the callers of a failed call while another is posted, and goes on after a member leaves', async () => {
    const { model, calls, answerNext } = stepped();
    const batcher = createModelBatcher(model, { maxBatchRows: 2, mode: 'batched', maxWaitMs: 3_600_000 });
    const [a, b, c] = [batcher.join(), batcher.join(), batcher.join()];
    const [ia, ib, ic] = await Promise.all([input(50, 2), input(51, 2), input(52, 2)]);
    const aCall = a!.model.eps(ia.x, T, ia.emb).catch((error: unknown) => error);
    const bAbort = new AbortController();
    const bCall = b!.model.eps(ib.x, T, ib.emb, bAbort.signal).catch((error: unknown) => error);
    const cCall = c!.model.eps(ic.x, T, ic.emb);
    await settleTurns();
    expect(calls).toEqual([2, 2]); // a's and b's calls posted; c's waits for a turn
    // b gives up while its rows are posted, and leaves; its call still runs (a GPU call cannot be taken back).
    bAbort.abort(new Error('b canceled'));
    b!.leave();
    expect(String(await bCall)).toBe('Error: b canceled');
    answerNext(new Error('device lost'));
    expect(String(await aCall)).toBe('Error: device lost');
    await settleTurns();
    expect(calls).toEqual([2, 2, 2]); // the failed call's turn went to c's
    answerNext();
    answerNext();
    expect(bytes(await cCall).equals(bytes(await demo.eps(ic.x, T, ic.emb)))).toBe(true);
    // a calls again, alone now: answered, exactly.
    const again = a!.model.eps(ia.x, T, ia.emb);
    await settleTurns();
    answerNext();
    expect(bytes(await again).equals(bytes(await demo.eps(ia.x, T, ia.emb)))).toBe(true);
    expect(batcher.stats()).toMatchObject({ calls: 4, members: 2 });
  });

  it('bills each shared call by rows: the shares sum to the model time', async () => {
    const batcher = createModelBatcher(demo, { maxBatchRows: 8, mode: 'padded' });
    const [a, b] = [batcher.join(), batcher.join()];
    const [ia, ib] = await Promise.all([input(16, 1), input(17, 3)]);
    for (let k = 0; k < 3; k++) {
      await Promise.all([a!.model.eps(ia.x, T + k, ia.emb), b!.model.eps(ib.x, T + k, ib.emb)]);
    }
    const { busyMs } = batcher.stats();
    expect(busyMs).toBeGreaterThan(0);
    expect(a!.modelMs() + b!.modelMs()).toBeCloseTo(busyMs, 9);
    // Padding rows are billed to no one: a pays 1 of the 4 real rows.
    expect(a!.modelMs() / busyMs).toBeCloseTo(1 / 4, 9);
  });

  it("bills a call its own device time: not a load's or check's it waited behind, nor cut by another's", async () => {
    const device = stubGpuModel(demo, { fixedMs: 100, perRowMs: 0 });
    const batcher = createModelBatcher(device, { maxBatchRows: 4, mode: 'batched' });
    const [a, b] = [batcher.join(), batcher.join()];
    const { x, emb } = await input(60, 1);
    // Work that is no job's (another model's invariance check, say) holds the device first: a's call waits.
    const unmetered = device.eps(x, T, emb);
    await a!.model.eps(x, T, emb);
    await unmetered;
    expect(a!.modelMs()).toBeGreaterThan(90);
    expect(a!.modelMs()).toBeLessThan(150);
    // b's decode never reaches the device (the demo decodes in JS): it neither pays nor cuts a's call short.
    b!.leave();
    const before = a!.modelMs();
    const call = a!.model.eps(x, T + 1, emb);
    await sleep(50);
    const c = batcher.join();
    await c.model.decode(x);
    await call;
    expect(c.modelMs()).toBe(0);
    expect(a!.modelMs() - before).toBeGreaterThan(90);
    c.leave();
  });
});

describe('stubGpuModel', () => {
  it("runs calls posted together one after another, as a GPU does, each with the base model's answer", async () => {
    const stub = stubGpuModel(demo, { fixedMs: 30, perRowMs: 0 });
    const [a, b] = await Promise.all([input(40, 1), input(41, 2)]);
    const answered: string[] = [];
    const noted = (name: string) => (eps: Float64Array) => {
      answered.push(name);
      return eps;
    };
    const [first, second] = await Promise.all([
      stub.eps(a.x, T, a.emb).then(noted('a')),
      stub.eps(b.x, T, b.emb).then(noted('b')),
    ]);
    expect(answered).toEqual(['a', 'b']);
    expect(bytes(first).equals(bytes(await demo.eps(a.x, T, a.emb)))).toBe(true);
    expect(bytes(second).equals(bytes(await demo.eps(b.x, T, b.emb)))).toBe(true);
    // Two 30 ms calls in turn, not at once (a timer never fires early; 1 ms for its rounding).
    expect(stub.busyMs()).toBeGreaterThanOrEqual(59);
    expect(stub.calls()).toEqual({ calls: 2, rows: 3 });
  });
});

describe('mixed-timestep merging', () => {
  it('merges calls at different t into one epsRows call whose rows are bitwise each caller alone', async () => {
    const choice = await chooseBatchMode(demo, 4);
    expect(choice).toMatchObject({ mode: 'batched', mixedTimesteps: true });
    const { model, calls } = recordingRows();
    const batcher = createModelBatcher(model, { maxBatchRows: 8, mode: 'batched', mixedTimesteps: true });
    const members = [0, 1, 2].map(() => batcher.join());
    const inputs = await Promise.all([input(21, 2), input(22, 1), input(23, 2)]);
    const timesteps = [T, 37, 981];
    const merged = await Promise.all(
      members.map((m, i) => m.model.eps(inputs[i]!.x, timesteps[i]!, inputs[i]!.emb)),
    );
    expect(calls).toEqual([{ rows: 5, timesteps: [T, T, 37, 981, 981], via: 'epsRows' }]);
    for (const [i, { x, emb }] of inputs.entries()) {
      expect(bytes(merged[i]!).equals(bytes(await demo.eps(x, timesteps[i]!, emb)))).toBe(true);
    }
    expect(batcher.stats()).toMatchObject({ calls: 1, mixedCalls: 1, realRows: 5 });
    expect(members[1]!.stats()).toMatchObject({ calls: 1, mixedCalls: 1, maxCallMembers: 3 });
    expect(members[1]!.mixedTimesteps).toBe(true);

    // Calls that happen to share one t still go through plain eps.
    calls.length = 0;
    await Promise.all(members.map((m, i) => m.model.eps(inputs[i]!.x, T, inputs[i]!.emb)));
    expect(calls).toEqual([{ rows: 5, timesteps: [T], via: 'eps' }]);
  });

  it('runs sample jobs of different step counts (never in lockstep) byte-identical to their solo runs', async () => {
    const { model, calls } = recordingRows();
    const batcher = createModelBatcher(model, { maxBatchRows: 8, mode: 'batched', mixedTimesteps: true });
    const jobs = [
      { seed: 31, prompt: 'red circle', guidance: 2, steps: 4 },
      { seed: 32, prompt: 'blue square', guidance: 1, steps: 6 },
      { seed: 33, prompt: 'green triangle', guidance: 3, steps: 7 },
    ];
    const together = await Promise.all(
      jobs.map(async (job) => {
        const member = batcher.join();
        try {
          return await sample(member.model, job);
        } finally {
          member.leave();
        }
      }),
    );
    for (const [i, job] of jobs.entries()) {
      const solo = await sample(demo, job);
      expect(bytes(together[i]!.image.data).equals(bytes(solo.image.data))).toBe(true);
      const [state, soloState] = [together[i]!.state, solo.state];
      if (state.kind !== 'pair' || soloState.kind !== 'pair') throw new Error('expected pair states');
      expect(bytes(state.lower).equals(bytes(soloState.lower))).toBe(true);
      expect(bytes(state.upper).equals(bytes(soloState.upper))).toBe(true);
    }
    // Their grids differ (the first timestep aside), so after the first step their calls share model calls
    // only across timesteps: all 5 rows in each call while all three run.
    expect(calls.slice(0, 4).map((c) => c.rows)).toEqual([5, 5, 5, 5]);
    expect(calls.slice(1, 4).map((c) => c.via)).toEqual(['epsRows', 'epsRows', 'epsRows']);
    expect(batcher.stats().mixedCalls).toBeGreaterThanOrEqual(3);
  });

  it('merges same-t calls only for a model without epsRows, and refuses mixing for one', async () => {
    const { model, calls } = recording();
    const { epsRows: _, ...withoutRows } = model;
    expect(await chooseBatchMode(withoutRows, 3)).toMatchObject({ mode: 'batched', mixedTimesteps: false });
    expect(() =>
      createModelBatcher(withoutRows, { maxBatchRows: 8, mode: 'batched', mixedTimesteps: true }),
    ).toThrow(RangeError);
    calls.length = 0;
    const batcher = createModelBatcher(withoutRows, { maxBatchRows: 8, mode: 'batched' });
    const [a, b, c] = [batcher.join(), batcher.join(), batcher.join()];
    expect(a!.model.epsRows).toBeUndefined();
    const [ia, ib, ic] = await Promise.all([input(24, 1), input(25, 2), input(26, 1)]);
    const answers = await Promise.all([
      a!.model.eps(ia.x, T, ia.emb),
      b!.model.eps(ib.x, T + 1, ib.emb),
      c!.model.eps(ic.x, T, ic.emb),
    ]);
    expect(calls).toEqual([2, 2]);
    expect(bytes(answers[1]!).equals(bytes(await demo.eps(ib.x, T + 1, ib.emb)))).toBe(true);
    expect(batcher.stats()).toMatchObject({ mixedCalls: 0 });
  });

  it('detects an epsRows whose rows are not exact at mixed timesteps, and keeps mixing off', async () => {
    // Like a kernel that changes with the batch: from 3 rows on, rows drift by one ulp.
    const drifting = withEps(demo.eps);
    const model: DiffusionModel = {
      ...drifting,
      epsRows: async (x, t, emb) => {
        const eps = await demo.epsRows!(x, t, emb);
        if (x.shape[0]! >= 3) for (let i = 0; i < eps.length; i++) eps[i] = eps[i]! * (1 + Number.EPSILON);
        return eps;
      },
    };
    const report = await checkBatchInvariance(model, [1, 2, 3, 4]);
    expect(report.passed).toEqual([1, 2, 3, 4]);
    expect(report.mixedTimesteps).toEqual({ passed: [1, 2], failed: [3, 4] });
    expect(await chooseBatchMode(model, 4)).toMatchObject({ mode: 'batched', mixedTimesteps: false });

    // One that feeds every row the first row's t (a broadcast bug) fails from 2 rows.
    const broadcast: DiffusionModel = { ...drifting, epsRows: (x, t, emb) => demo.eps(x, t[0]!, emb) };
    expect((await checkBatchInvariance(broadcast, [1, 2])).mixedTimesteps).toEqual({
      passed: [1],
      failed: [2],
    });
  });
});

describe('checkBatchInvariance', () => {
  it('finds the demo and tiny SD models batch-invariant on the CPU, so a CPU worker runs batched', async () => {
    const sd = join(dir, 'tiny-sd');
    const script = join(dir, 'tiny-sd-script');
    await Promise.all([writeTinySdBundle(sd), writeTinySdExport(script, 'diffusers-script')]);
    // A scalar timestep (optimum) takes one t per call; the older script's [batch] one, one per row.
    const [tinySd, tinyScript] = await Promise.all([
      loadBundle(sd, { provider: 'cpu' }),
      loadBundle(script, { provider: 'cpu' }),
    ]);
    try {
      for (const [model, mixed] of [
        [demo, true],
        [tinySd, false],
        [tinyScript, true],
      ] as const) {
        const choice = await chooseBatchMode(model, 6, { prompts: ['', 'red circle'] });
        expect(choice).toMatchObject({ mode: 'batched', exact: true, mixedTimesteps: mixed });
        expect(choice.invariance.passed).toEqual([1, 2, 3, 4, 5, 6]);
        if (mixed) expect(choice.invariance.mixedTimesteps?.passed).toEqual([1, 2, 3, 4, 5, 6]);
      }
    } finally {
      await Promise.all([tinySd.close(), tinyScript.close()]);
    }
  });

  it('catches a model whose rows change in the last bit with the batch size, and picks padded mode', async () => {
    // Like a GPU kernel chosen by batch size: from 3 rows on, results differ from 1 and 2 rows by one ulp.
    const drifting = withEps(async (x) => {
      const eps = x.data.map((v) => v * 0.1);
      if (x.shape[0]! >= 3) for (let i = 0; i < eps.length; i++) eps[i] = eps[i]! * (1 + Number.EPSILON);
      return eps;
    });
    const report = await checkBatchInvariance(drifting, [1, 2, 3, 4]);
    expect(report).toMatchObject({ passed: [1, 2], failed: [3, 4] });
    expect(report.sizes.every((s) => s.consistent)).toBe(true);
    expect(await chooseBatchMode(drifting, 4)).toMatchObject({
      mode: 'padded',
      exact: true,
      mixedTimesteps: false,
    });
  });
});
