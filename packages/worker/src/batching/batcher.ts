import type { DiffusionModel, Embedding, Tensor } from '@obelm/engine';
import { measureDeviceTime } from '@obelm/models';
import { embeddingMerger } from './mergedEmbeddings.ts';
import { type RowLayout, rowLayout, timestepKey, uniformTimestepKey } from './rows.ts';
import type { BatcherOptions, BatchMember, MemberBatchStats, ModelBatcher } from './types.ts';

/**
 * How long the model may idle waiting for members that are not yet waiting on eps while others are.
 *
 * Why 2 ms: in lockstep, members come back from a shared call and compute their next step in the same event-loop
 * turn, so the "no member is computing" rule starts the next call and this bound is never reached (nor can it
 * cut them off: it is kept by a timer, which fires only after that turn). It only matters for a member waiting
 * on I/O in its step (a checkpoint write: milliseconds to tens of ms, longer than any wait worth making; a progress
 * write goes out behind the step, queue/lease.ts). The others go ahead without it after 2 ms; it runs its step
 * alone once and then meets them again (the wait counts from when the model went idle, see `deadline`). 2 ms is
 * small next to a GPU call's fixed cost (~15 ms for a UNet step), which is what a straggler's solo call costs, so
 * waiting longer rarely pays.
 */
export const DEFAULT_MAX_WAIT_MS = 2;

/**
 * Model calls posted at once: the one the model runs and one queued behind it. The queued one starts the moment
 * the other ends, however busy this thread is then (other jobs' steps, encodes, SDK calls), so the model does not
 * wait on the event loop between two calls; a third would only lengthen the members' waits.
 */
const MAX_CALLS_POSTED = 2;

/** One member's bookkeeping. */
interface MemberState {
  active: boolean;
  /** Its calls that still have rows not sent to the model. */
  queued: number;
  /** Its rows in posted calls, not yet answered. */
  postedRows: number;
  /** Its own model calls in flight (encode, decode, embed): waiting on the device, not computing. */
  ownCalls: number;
  sharedMs: number;
  ownMs: number;
  calls: number;
  rows: number;
  callRowsSum: number;
  maxCallRows: number;
  maxCallMembers: number;
  mixedCalls: number;
}

/** One caller's eps call, cut into rows. */
interface EpsCall {
  readonly member: MemberState;
  /** One model timestep per row. */
  readonly timesteps: Float64Array;
  readonly layout: RowLayout;
  /** Calls with equal group keys may share a model call: the row shapes, and the timestep unless mixing is on. */
  readonly groupKey: string;
  readonly x: Float64Array;
  readonly emb: Float32Array;
  /** The caller's answer, filled as its rows come back: only for a call whose rows went in more than one model call. */
  out?: Float64Array;
  /** When it was queued (performance.now()). */
  readonly queuedAt: number;
  /** First row not yet sent to the model. */
  nextRow: number;
  doneRows: number;
  settled: boolean;
  resolve(eps: Float64Array): void;
  reject(error: unknown): void;
}

/** Rows [from, from + count) of a call, inside one model call. */
interface Piece {
  readonly call: EpsCall;
  readonly from: number;
  readonly count: number;
}

/**
 * Merges the eps calls of the jobs that share a model into model calls of at most `maxBatchRows` rows.
 *
 * - Calls share a model call when their x and embedding rows have the same shapes (rows.ts) and their t is equal
 *   or, with `mixedTimesteps` (the model has `epsRows` and its rows passed the invariance check at mixed
 *   timesteps), whatever their t: a call whose rows are all at one t goes to `eps`, any other to `epsRows` with
 *   each row's own t. Rows are packed in arrival order; a call larger than the room left is split across calls.
 * - The oldest call's group goes to the model when it fills a call, or when every member is waiting or in a
 *   posted call and either no call is posted or the posted rows and the pending ones are more than one call
 *   holds: this round takes two calls whether it waits or not, so it waits for no one (two cohorts of jobs take
 *   turns, each computing its steps while the other's call runs). With no call posted it also goes `maxWaitMs`
 *   after the model went idle with calls pending.
 * - At most MAX_CALLS_POSTED calls are posted at once; the model runs them one after another (a GPU runs one at a
 *   time anyway). No caller's signal is passed to a shared call: an abort rejects that caller's promise at once
 *   and its rows' answers are dropped when they come.
 * - A shared call's failure rejects every caller with rows in it.
 */
export function createModelBatcher(model: DiffusionModel, options: BatcherOptions): ModelBatcher {
  const { maxBatchRows, mode } = options;
  const mixedTimesteps = options.mixedTimesteps ?? false;
  const epsRows = model.epsRows;
  if (mixedTimesteps && !epsRows) {
    throw new RangeError(`mixedTimesteps needs a model with epsRows; '${model.id}' has none`);
  }
  const maxWaitMs = options.maxWaitMs ?? DEFAULT_MAX_WAIT_MS;
  if (!Number.isInteger(maxBatchRows) || maxBatchRows < 1) {
    throw new RangeError(`maxBatchRows must be an integer >= 1, got ${maxBatchRows}`);
  }
  if (!(maxWaitMs >= 0)) throw new RangeError(`maxWaitMs must be >= 0, got ${maxWaitMs}`);

  const members = new Set<MemberState>();
  /** The merged embedding rows of recent calls, reused by a cohort's next (mergedEmbeddings.ts). */
  const mergeEmbeddings = embeddingMerger();
  /** Calls with rows not yet sent, oldest first. */
  const queue: EpsCall[] = [];
  /** Calls posted to the model and not yet answered, and their real rows (members who left included). */
  let posted = 0;
  let postedRows = 0;
  /** When the model last went idle (no call posted): the idle wait counts from here. */
  let idleSince = Number.NEGATIVE_INFINITY;
  let timer: NodeJS.Timeout | undefined;
  const totals = { calls: 0, mixedCalls: 0, realRows: 0, paddingRows: 0, busyMs: 0 };

  const clearTimer = () => {
    if (timer) clearTimeout(timer);
    timer = undefined;
  };

  /** Takes a call out of the queue (all its rows sent, or it settled early). */
  const unqueue = (call: EpsCall) => {
    const at = queue.indexOf(call);
    if (at < 0) return;
    queue.splice(at, 1);
    call.member.queued--;
  };

  const settle = (call: EpsCall, outcome: { eps: Float64Array } | { error: unknown }) => {
    if (call.settled) return;
    call.settled = true;
    unqueue(call);
    if ('eps' in outcome) call.resolve(outcome.eps);
    else call.reject(outcome.error);
  };

  /** No member is computing its step: each is waiting, or its rows are in a posted call, or it is in a call of its own. */
  const noMemberComputing = () => {
    for (const member of members) {
      if (member.queued === 0 && member.postedRows === 0 && member.ownCalls === 0) return false;
    }
    return true;
  };

  const pendingRows = (key: string) => {
    let rows = 0;
    for (const call of queue) if (call.groupKey === key) rows += call.layout.rows - call.nextRow;
    return rows;
  };

  /** When the oldest pending call stops waiting for latecomers. */
  const deadline = (head: EpsCall) => Math.max(head.queuedAt, idleSince) + maxWaitMs;

  /**
   * Starts a model call if one is due, else arms the timer for when one will be. The wait bound is kept by the
   * timer alone, never checked when a caller arrives: a timer only fires once the event loop has run everything
   * ready, so members still computing their step after a shared call (one after another, in the same turn) are
   * never cut off however long that takes; only members waiting on something outside (I/O) are.
   */
  const pump = (waited = false) => {
    clearTimer();
    for (;;) {
      if (posted >= MAX_CALLS_POSTED) return; // the posted calls pump again as they end
      const head = queue[0];
      if (!head) return;
      const pending = pendingRows(head.groupKey);
      const due =
        pending >= maxBatchRows ||
        (posted === 0 && waited) ||
        (noMemberComputing() && (posted === 0 || pending + postedRows > maxBatchRows));
      if (!due) break;
      void run(takeGroup(head.groupKey));
      waited = false;
    }
    if (posted > 0) return; // its end pumps again
    const head = queue[0]!;
    clearTimer(); // a call that ended within this pump may have armed one
    timer = setTimeout(() => pump(true), Math.max(0, deadline(head) - performance.now()));
    // A pending call must not keep a process alive that has nothing else to do.
    timer.unref();
  };

  /** Up to maxBatchRows rows of the calls with `key`, in arrival order. */
  const takeGroup = (key: string): Piece[] => {
    const pieces: Piece[] = [];
    let room = maxBatchRows;
    for (const call of [...queue]) {
      if (room === 0) break;
      if (call.groupKey !== key) continue;
      const count = Math.min(room, call.layout.rows - call.nextRow);
      pieces.push({ call, from: call.nextRow, count });
      call.nextRow += count;
      room -= count;
      if (call.nextRow === call.layout.rows) unqueue(call);
    }
    return pieces;
  };

  /** One model call on the pieces' rows (plus padding rows in padded mode); answers go back per caller. */
  const run = async (pieces: Piece[]) => {
    const realRows = pieces.reduce((n, p) => n + p.count, 0);
    posted++;
    postedRows += realRows;
    for (const { call, count } of pieces) call.member.postedRows += count;
    const first = pieces[0]!;
    const layout = first.call.layout;
    const rows = mode === 'padded' ? maxBatchRows : realRows;
    const x = new Float64Array(rows * layout.xRowSize);
    const timesteps = new Float64Array(rows);
    let row = 0;
    for (const { call, from, count } of pieces) {
      timesteps.set(call.timesteps.subarray(from, from + count), row);
      x.set(call.x.subarray(from * layout.xRowSize, (from + count) * layout.xRowSize), row * layout.xRowSize);
      row += count;
    }
    // Padding: copies of the first real row; their answers are never read.
    const padX = first.call.x.subarray(first.from * layout.xRowSize, (first.from + 1) * layout.xRowSize);
    for (; row < rows; row++) {
      timesteps[row] = first.call.timesteps[first.from]!;
      x.set(padX, row * layout.xRowSize);
    }
    const embParts = pieces.map(({ call, from, count }) => ({ emb: call.emb, from, count }));
    const emb = mergeEmbeddings(embParts, rows, layout.embRowSize);

    // Rows all at one t take the model's plain eps (checked batch-invariant); mixed ones, epsRows (checked too).
    const mixed = uniformTimestepKey(timesteps) === undefined;
    const xTensor = { data: x, shape: [rows, ...layout.xRowShape] };
    const embTensor = { data: emb, shape: [rows, ...layout.embRowShape] };
    // The call's device time (models deviceTime.ts): not the calls it waited behind, whoever posted them.
    let ms = 0;
    const took = (deviceMs: number) => {
      ms = deviceMs;
    };
    let outcome: { eps: Float64Array } | { error: unknown };
    try {
      const eps = await measureDeviceTime(
        () =>
          mixed ? epsRows!(xTensor, timesteps, embTensor) : model.eps(xTensor, timesteps[0]!, embTensor),
        took,
      );
      outcome =
        eps.length === x.length
          ? { eps }
          : { error: new Error(`model '${model.id}' returned ${eps.length} eps values for ${x.length}`) };
    } catch (error) {
      outcome = { error };
    }
    // The call is over before any caller hears of it: a caller's settling pumps, and must see it gone.
    posted--;
    postedRows -= realRows;
    for (const { call, count } of pieces) call.member.postedRows -= count;
    if (posted === 0) idleSince = performance.now();
    totals.calls++;
    if (mixed) totals.mixedCalls++;
    totals.realRows += realRows;
    totals.paddingRows += rows - realRows;
    totals.busyMs += ms;

    const callMembers = new Set(pieces.map((p) => p.call.member)).size;
    const billed = new Set<MemberState>();
    row = 0;
    for (const { call, from, count } of pieces) {
      const member = call.member;
      member.sharedMs += (ms * count) / realRows;
      member.rows += count;
      if (!billed.has(member)) {
        billed.add(member);
        member.calls++;
        member.callRowsSum += realRows;
        member.maxCallRows = Math.max(member.maxCallRows, realRows);
        member.maxCallMembers = Math.max(member.maxCallMembers, callMembers);
        if (mixed) member.mixedCalls++;
      }
      if ('error' in outcome) settle(call, outcome);
      else if (!call.settled) {
        const size = layout.xRowSize;
        const answered = outcome.eps.subarray(row * size, (row + count) * size);
        // All its rows in this model call: its part of the answer, as it came (a view, not a copy; answers are
        // only read). Split over several calls: gathered in an array of its own.
        if (count === call.layout.rows) settle(call, { eps: answered });
        else {
          call.out ??= new Float64Array(call.layout.rows * size);
          call.out.set(answered, from * size);
          call.doneRows += count;
          if (call.doneRows === call.layout.rows) settle(call, { eps: call.out });
        }
      }
      row += count;
    }
    pump();
  };

  /** Queues a call's rows; its promise settles when all of them are answered, or at once on abort. */
  const enqueue = (
    member: MemberState,
    layout: RowLayout,
    groupKey: string,
    x: Tensor,
    timesteps: Float64Array,
    emb: Embedding,
    signal?: AbortSignal,
  ) =>
    new Promise<Float64Array>((resolve, reject) => {
      const onAbort = () => settle(call, { error: signal!.reason });
      const call: EpsCall = {
        member,
        timesteps,
        layout,
        groupKey,
        x: x.data,
        emb: emb.data,
        queuedAt: performance.now(),
        nextRow: 0,
        doneRows: 0,
        settled: false,
        resolve: (eps) => {
          signal?.removeEventListener('abort', onAbort);
          resolve(eps);
        },
        reject: (error) => {
          signal?.removeEventListener('abort', onAbort);
          reject(error);
          // The queue changed: who is waiting, and maybe the head.
          pump();
        },
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      queue.push(call);
      member.queued++;
      pump();
    });

  const memberEps =
    (member: MemberState) =>
    async (x: Tensor, t: number, emb: Embedding, signal?: AbortSignal): Promise<Float64Array> => {
      signal?.throwIfAborted();
      const layout = rowLayout(x, emb);
      const tKey = timestepKey(t);
      if (!layout || tKey === undefined) return timedOwn(member, () => model.eps(x, t, emb, signal));
      const groupKey = mixedTimesteps ? layout.key : `${tKey}|${layout.key}`;
      return enqueue(member, layout, groupKey, x, new Float64Array(layout.rows).fill(t), emb, signal);
    };

  /**
   * The member's epsRows: merged like eps calls when mixing is on; else (the model has one, unchecked at mixed
   * timesteps) straight to the model, on its own.
   */
  const memberEpsRows = (member: MemberState): DiffusionModel['epsRows'] => {
    if (!epsRows) return undefined;
    const own = (x: Tensor, t: Float64Array, emb: Embedding, signal?: AbortSignal) =>
      timedOwn(member, () => epsRows(x, t, emb, signal));
    if (!mixedTimesteps) return own;
    return async (x, t, emb, signal) => {
      signal?.throwIfAborted();
      const layout = rowLayout(x, emb);
      if (!layout || t.length !== layout.rows || !t.every(Number.isFinite)) return own(x, t, emb, signal);
      return enqueue(member, layout, layout.key, x, t.slice(), emb, signal);
    };
  };

  const timedOwn = <R>(member: MemberState, call: () => Promise<R>): Promise<R> => {
    member.ownCalls++;
    return measureDeviceTime(call, (ms) => {
      member.ownMs += ms;
      member.ownCalls--;
    });
  };

  const join = (): BatchMember => {
    const member: MemberState = {
      active: true,
      queued: 0,
      postedRows: 0,
      ownCalls: 0,
      sharedMs: 0,
      ownMs: 0,
      calls: 0,
      rows: 0,
      callRowsSum: 0,
      maxCallRows: 0,
      maxCallMembers: 0,
      mixedCalls: 0,
    };
    members.add(member);
    const rowsEps = memberEpsRows(member);
    const memberModel: DiffusionModel = {
      id: model.id,
      schedule: model.schedule,
      defaults: model.defaults,
      latentShape: model.latentShape,
      imageSize: model.imageSize,
      encode: (pixels, signal) => timedOwn(member, () => model.encode(pixels, signal)),
      decode: (latent, signal) => timedOwn(member, () => model.decode(latent, signal)),
      embed: (prompt, signal) => timedOwn(member, () => model.embed(prompt, signal)),
      eps: memberEps(member),
      ...(rowsEps ? { epsRows: rowsEps } : {}),
    };
    return {
      model: memberModel,
      mode,
      mixedTimesteps,
      modelMs: () => member.sharedMs + member.ownMs,
      stats: (): MemberBatchStats => ({
        calls: member.calls,
        rows: member.rows,
        meanCallRows: member.calls > 0 ? member.callRowsSum / member.calls : 0,
        maxCallRows: member.maxCallRows,
        maxCallMembers: member.maxCallMembers,
        mixedCalls: member.mixedCalls,
      }),
      leave: () => {
        if (!member.active) return;
        member.active = false;
        members.delete(member);
        // The others may all be waiting now.
        pump();
      },
    };
  };

  return {
    model,
    mode,
    mixedTimesteps,
    maxBatchRows,
    join,
    stats: () => ({ ...totals, members: members.size }),
  };
}
