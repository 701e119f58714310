/**
 * Shared types of the engine. The engine is pure math: no I/O, no model runtime, no randomness but the
 * seeded generator in `noise.ts`.
 *
 * Indexing follows the paper (docs/math.md §0 and §1.3): grid index i runs from N (pure noise) down to 0
 * (clean data); `Grid.abar[i]` is abar_i and `Grid.timesteps[i]` is tau_i (i >= 1).
 */

/** A float64 tensor in row-major (C) order; the first axis is the batch. */
export interface Tensor {
  readonly data: Float64Array;
  readonly shape: readonly number[];
}

/** A conditioning tensor (text embedding, or the demo model's log-prior), batch-first, float32. */
export interface Embedding {
  readonly data: Float32Array;
  readonly shape: readonly number[];
}

/**
 * The noise predictor eps_theta(x, t) on a batch. `t` is the model's integer timestep (tau_i, or the
 * configurable first-inversion timestep). Must be deterministic: the same x and t give bitwise the same eps.
 */
export type EpsPredictor = (x: Tensor, t: number, signal?: AbortSignal) => Promise<Float64Array>;

/** A conditional noise predictor: `emb` has one row per row of `x`. CFG is built on top of it. */
export type ConditionalEpsPredictor = (
  x: Tensor,
  t: number,
  emb: Embedding,
  signal?: AbortSignal,
) => Promise<Float64Array>;

/**
 * A conditional noise predictor with one timestep per row, so rows at different steps can share one model call:
 * `t[i]` is the model timestep of row i of `x`, and row i of the answer depends only on row i of `x`, `t[i]` and
 * row i of `emb` (never on the other rows, their timesteps or the batch size). Whether a model's rows come out
 * bitwise equal to its plain `eps` alone is a property of its kernels, checked by whoever merges calls.
 */
export type RowwiseEpsPredictor = (
  x: Tensor,
  t: Float64Array,
  emb: Embedding,
  signal?: AbortSignal,
) => Promise<Float64Array>;

/** The sampling grid: abar[0..N] (abar[0] = final abar, 1 in the official code) and tau[1..N]. */
export interface Grid {
  /** Number of inference steps N. */
  readonly steps: number;
  /** abar[i] for i = 0..N, float64. */
  readonly abar: Float64Array;
  /** timesteps[i] = tau_i for i = 1..N; timesteps[0] is unused (NaN). */
  readonly timesteps: readonly number[];
}

/**
 * The state a sampler carries between steps, at grid index `index`.
 * - `single`: x_index alone (DDIM, or the start of any sampler without a stored companion).
 * - `pair`: two adjacent trajectory states, `upper` = x_index and `lower` = x_{index-1}
 *   (O-BELM, BDIA). Inversion ends with (x_N, x_{N-1}); sampling ends with (x_1, x_0).
 * - `coupled`: EDICT's two sequences x_index and y_index.
 */
export type SamplerState =
  | { readonly kind: 'single'; readonly index: number; readonly x: Float64Array }
  | {
      readonly kind: 'pair';
      readonly index: number;
      readonly upper: Float64Array;
      readonly lower: Float64Array;
    }
  | { readonly kind: 'coupled'; readonly index: number; readonly x: Float64Array; readonly y: Float64Array };

/** Sampler choice with its parameters, as the API exposes it. */
export type SamplerSpec =
  | { readonly name: 'ddim' }
  | { readonly name: 'obelm' }
  | { readonly name: 'bdia'; readonly gamma: number }
  | { readonly name: 'edict'; readonly p: number };

export interface StepProgress {
  /** Steps done so far in this run (1-based after the first step). */
  readonly step: number;
  /** Total steps of this run. */
  readonly of: number;
  /** The state after this step: save it to resume later. */
  readonly state: SamplerState;
}

/** Options shared by every sampler run. */
export interface RunOptions {
  readonly grid: Grid;
  readonly eps: EpsPredictor;
  /** Shape of one state tensor (batch first); data length must equal its product. */
  readonly shape: readonly number[];
  /** Model timestep of the clean-end DDIM inversion call (docs/math.md §2: official 1; 0 is allowed). */
  readonly firstInversionTimestep?: number;
  readonly onStep?: (progress: StepProgress) => void | Promise<void>;
  readonly signal?: AbortSignal;
}
