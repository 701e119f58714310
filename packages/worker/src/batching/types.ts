import type { DiffusionModel } from '@obelm/engine';

/**
 * How a batcher shapes its model calls:
 * - 'batched': calls carry however many rows are pending (1..maxBatchRows). Exact only for a model whose rows are
 *   batch-invariant (invariance.ts checks it).
 * - 'padded': every call carries exactly maxBatchRows rows, padded with copies of a real row whose outputs are
 *   thrown away, so each row always meets the kernels of one batch shape, alone or in company.
 */
export type BatchMode = 'batched' | 'padded';

export interface BatcherOptions {
  /** Most rows in one model call; in 'padded' mode, the rows of every call. */
  readonly maxBatchRows: number;
  readonly mode: BatchMode;
  /**
   * Longest the model stays idle for members that are not yet waiting on eps while others are (default
   * DEFAULT_MAX_WAIT_MS, see batcher.ts for the choice).
   */
  readonly maxWaitMs?: number;
  /**
   * Merge calls at different timesteps into one model call (through the model's `epsRows`, one t per row), not
   * only calls at the same t. Only for a model with `epsRows` whose rows passed the invariance check at mixed
   * timesteps (chooseBatchMode's `mixedTimesteps`). Default false.
   */
  readonly mixedTimesteps?: boolean;
}

/** The model calls a member's rows ran in: what a job's report says about the batch it ran in. */
export interface MemberBatchStats {
  /** Model calls that carried at least one of the member's rows. */
  readonly calls: number;
  /** The member's own rows over those calls. */
  readonly rows: number;
  /** Mean and largest count of real rows (all members') in those calls. */
  readonly meanCallRows: number;
  readonly maxCallRows: number;
  /** Largest count of members sharing one of those calls. */
  readonly maxCallMembers: number;
  /** Those calls whose rows were at more than one timestep (only with mixed-timestep merging on). */
  readonly mixedCalls: number;
}

/** One job's seat at a model's batcher. */
export interface BatchMember {
  /** The model the job's pipeline uses: its eps calls are merged with the other members'. */
  readonly model: DiffusionModel;
  readonly mode: BatchMode;
  /** Whether its calls may share model calls with calls at other timesteps. */
  readonly mixedTimesteps: boolean;
  /**
   * The job's share of model time, in ms: of each shared call, its device time times the member's rows over the
   * call's real rows (padding is billed to no one), plus its own encode / decode / embed device time.
   */
  modelMs(): number;
  stats(): MemberBatchStats;
  /** The job ended, failed or was canceled: the batcher no longer waits for it. Idempotent. */
  leave(): void;
}

/** The batcher's own counters, e.g. for a bench's model-busy fraction. */
export interface BatcherStats {
  /** Model eps calls made. */
  readonly calls: number;
  /** Of them, calls whose rows were at more than one timestep (through the model's epsRows). */
  readonly mixedCalls: number;
  readonly realRows: number;
  readonly paddingRows: number;
  /** Device time of the eps calls (models deviceTime.ts: a call's own, not what it waited behind). */
  readonly busyMs: number;
  /** Members joined and not yet left. */
  readonly members: number;
}

/** One per loaded model in a worker process. */
export interface ModelBatcher {
  readonly model: DiffusionModel;
  readonly mode: BatchMode;
  /** Calls at different timesteps are merged (BatcherOptions.mixedTimesteps). */
  readonly mixedTimesteps: boolean;
  readonly maxBatchRows: number;
  join(): BatchMember;
  stats(): BatcherStats;
}
