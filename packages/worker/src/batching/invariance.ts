import { type DiffusionModel, type Embedding, gaussianNoise } from '@obelm/engine';
import type { BatchMode } from './types.ts';

/*
 * Measured on the CPU provider (onnxruntime-node 1.30.0, x64; `npm run bench:scheduler` prints it, and
 * batching.test.ts keeps sizes 1..6 checked): the demo bundle and the tiny SD bundle (@obelm/models/testing
 * writeTinySdBundle) are batch-invariant at every size 1..16, so a CPU worker runs in 'batched' mode; the demo's
 * epsRows (and a [batch]-timestep SD export's) is too at mixed timesteps, so jobs at different steps share calls
 * there. GPU kernels
 * may pick algorithms by batch size, which is what this check is for: a worker runs it at model load on its own
 * provider.
 */

/** What the check found at one batch size. */
export interface SizeInvariance {
  readonly size: number;
  /** Every row's eps inside batches of this size equals, bitwise, its eps alone. */
  readonly invariant: boolean;
  /**
   * Every row's eps is bitwise the same at each position it was tried in within this size (with other
   * neighbours): what 'padded' mode relies on at its one size.
   */
  readonly consistent: boolean;
  /**
   * Where the model has `epsRows`: every row's eps inside batches of this size through epsRows, each of the other
   * rows at another timestep, equals, bitwise, its plain `eps` alone at its own timestep.
   */
  readonly mixedTimesteps?: boolean;
}

export interface InvarianceReport {
  readonly sizes: readonly SizeInvariance[];
  /** Sizes where `invariant` holds, and where it does not. */
  readonly passed: readonly number[];
  readonly failed: readonly number[];
  /** Where the model has `epsRows`: sizes where `mixedTimesteps` holds, and where it does not. */
  readonly mixedTimesteps?: { readonly passed: readonly number[]; readonly failed: readonly number[] };
}

export interface InvarianceOptions {
  /** Model timestep of the probe calls (default: the middle of the training schedule). */
  readonly t?: number;
  /** Prompts of the rows' embeddings, used in turn (default ['']: every model has an unconditional one). */
  readonly prompts?: readonly string[];
  /** Seed of the rows' noise (default 1). */
  readonly seed?: number;
}

const sameBits = (a: Float64Array, b: Float64Array) =>
  Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));

/**
 * Bitwise batch-invariance check. With a pool of max(sizes) deterministic random rows, each row's eps alone is
 * the reference; at each size s the first s rows run as one batch in order and once reversed, so each row is
 * tried at two positions with other rows around it, and every row's slice must equal its reference bit for bit.
 * Where the model has `epsRows`, the same is done at mixed timesteps: row r of the pool at its own timestep
 * (spread over the schedule, one per row), its reference its plain `eps` alone at that timestep, each batch
 * through `epsRows` with every other row at another timestep.
 *
 * Cost: max(sizes) single-row calls plus two calls per size (2 * sum(sizes) rows), twice with epsRows: cheap on a GPU; on the CPU
 * with a full-size UNet, check the sizes the worker will actually use.
 */
export async function checkBatchInvariance(
  model: DiffusionModel,
  sizes: readonly number[],
  options: InvarianceOptions = {},
): Promise<InvarianceReport> {
  for (const size of sizes) {
    if (!Number.isInteger(size) || size < 1)
      throw new RangeError(`batch sizes must be integers >= 1, got ${size}`);
  }
  const t = options.t ?? Math.floor(model.schedule.trainTimesteps / 2);
  const prompts = options.prompts?.length ? options.prompts : [''];
  const rowShape = model.latentShape.slice(1);
  const xRowSize = rowShape.reduce((a, b) => a * b, 1);
  const poolSize = Math.max(0, ...sizes);

  const embeddings: Embedding[] = [];
  for (const prompt of prompts) embeddings.push(await model.embed(prompt));
  const embRowShape = embeddings[0]!.shape.slice(1);
  const noise = gaussianNoise(options.seed ?? 1, poolSize * xRowSize);
  const pool = Array.from({ length: poolSize }, (_, i) => ({
    x: noise.subarray(i * xRowSize, (i + 1) * xRowSize),
    emb: embeddings[i % embeddings.length]!.data,
  }));
  const embRowSize = pool[0]?.emb.length ?? 0;

  /** The pool rows as one batch. */
  const batchOf = (rows: readonly number[]) => {
    const x = new Float64Array(rows.length * xRowSize);
    const emb = new Float32Array(rows.length * embRowSize);
    rows.forEach((r, k) => {
      x.set(pool[r]!.x, k * xRowSize);
      emb.set(pool[r]!.emb, k * embRowSize);
    });
    return {
      x: { data: x, shape: [rows.length, ...rowShape] },
      emb: { data: emb, shape: [rows.length, ...embRowShape] },
    };
  };
  const cut = (eps: Float64Array, count: number) =>
    Array.from({ length: count }, (_, k) => eps.subarray(k * xRowSize, (k + 1) * xRowSize));

  /** eps of the given pool rows as one batch at `at`, cut back into rows. */
  const epsOf = async (rows: readonly number[], at = t): Promise<Float64Array[]> => {
    const { x, emb } = batchOf(rows);
    return cut(await model.eps(x, at, emb), rows.length);
  };

  const alone: Float64Array[] = [];
  for (let r = 0; r < poolSize; r++) alone.push((await epsOf([r]))[0]!);

  /** Each row forward and reversed in batches of `size`, against its reference. */
  const probe = async (
    size: number,
    reference: readonly Float64Array[],
    batchEps: (rows: readonly number[]) => Promise<Float64Array[]>,
  ) => {
    const order = Array.from({ length: size }, (_, i) => i);
    const forward = await batchEps(order);
    const reversed = (await batchEps([...order].reverse())).reverse();
    return {
      invariant: order.every(
        (r) => sameBits(forward[r]!, reference[r]!) && sameBits(reversed[r]!, reference[r]!),
      ),
      consistent: order.every((r) => sameBits(forward[r]!, reversed[r]!)),
    };
  };

  // Mixed timesteps: row r at its own timestep, distinct across the pool, spread over the schedule.
  const epsRows = model.epsRows;
  const rowT = (r: number) => Math.floor(((r + 0.5) * model.schedule.trainTimesteps) / poolSize);
  const aloneMixed: Float64Array[] = [];
  if (epsRows) for (let r = 0; r < poolSize; r++) aloneMixed.push((await epsOf([r], rowT(r)))[0]!);
  const mixedEpsOf = async (rows: readonly number[]) => {
    const { x, emb } = batchOf(rows);
    return cut(await epsRows!(x, Float64Array.from(rows, rowT), emb), rows.length);
  };

  const results: SizeInvariance[] = [];
  for (const size of sizes) {
    const same = await probe(size, alone, epsOf);
    const mixed = epsRows ? { mixedTimesteps: (await probe(size, aloneMixed, mixedEpsOf)).invariant } : {};
    results.push({ size, ...same, ...mixed });
  }
  return {
    sizes: results,
    passed: results.filter((r) => r.invariant).map((r) => r.size),
    failed: results.filter((r) => !r.invariant).map((r) => r.size),
    ...(epsRows
      ? {
          mixedTimesteps: {
            passed: results.filter((r) => r.mixedTimesteps).map((r) => r.size),
            failed: results.filter((r) => !r.mixedTimesteps).map((r) => r.size),
          },
        }
      : {}),
  };
}

/** The mode a worker runs a model's batcher in, and the check behind it. */
export interface BatchModeChoice {
  readonly mode: BatchMode;
  readonly invariance: InvarianceReport;
  /**
   * Whether a job's bytes are the same alone or in any batch under `mode`: always in 'batched' (every size
   * passed); in 'padded', when rows are consistent at maxBatchRows whatever their neighbours and positions.
   */
  readonly exact: boolean;
  /**
   * Whether calls at different timesteps may share a model call (BatcherOptions.mixedTimesteps): in 'batched'
   * mode, when the model has `epsRows` and every size passed at mixed timesteps. Off in 'padded' mode, whose
   * one-shape guarantee is checked at one timestep only.
   */
  readonly mixedTimesteps: boolean;
}

/**
 * Checks every size a batcher of `maxBatchRows` may use (1..maxBatchRows) and picks 'batched' when all are
 * invariant, else 'padded' (every call at exactly maxBatchRows rows); in 'batched' mode, mixed-timestep merging
 * where the model's epsRows rows are invariant at every size too.
 */
export async function chooseBatchMode(
  model: DiffusionModel,
  maxBatchRows: number,
  options: InvarianceOptions = {},
): Promise<BatchModeChoice> {
  const sizes = Array.from({ length: maxBatchRows }, (_, i) => i + 1);
  const invariance = await checkBatchInvariance(model, sizes, options);
  if (invariance.failed.length === 0) {
    const mixed = invariance.mixedTimesteps;
    const mixedTimesteps = mixed !== undefined && mixed.failed.length === 0;
    return { mode: 'batched', invariance, exact: true, mixedTimesteps };
  }
  const atMax = invariance.sizes.find((s) => s.size === maxBatchRows)!;
  return { mode: 'padded', invariance, exact: atMax.consistent, mixedTimesteps: false };
}
