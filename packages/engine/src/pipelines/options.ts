import type { SamplerSpec, SamplerState } from '../types.ts';
import type { LastEps } from './lastEps.ts';

/** Where a pipeline stopped: resume by passing it back as `resume`. */
export interface PipelineCheckpoint {
  /** Index of the stage the state belongs to (see each pipeline's stage list). */
  readonly stage: number;
  /** The state inside that stage (from `onProgress`), or its start. */
  readonly state: SamplerState;
  /** End states of the stages before `stage`, in order (interpolate needs both inversions). */
  readonly completed: readonly SamplerState[];
  /**
   * The last eps of the step that reached `state`, and of each completed stage, where kept (lastEps.ts): a run
   * resumed after a stage's last step returns them as an unsplit run would. Absent: none kept.
   */
  readonly lastEps?: LastEps;
  readonly completedLastEps?: readonly (LastEps | undefined)[];
}

/** Progress across a whole pipeline: `step` of `total` counts every sampler step of every stage. */
export interface PipelineProgress extends PipelineCheckpoint {
  readonly stageName: 'invert' | 'sample';
  readonly step: number;
  readonly total: number;
}

/** Options every pipeline accepts. */
export interface PipelineOptions {
  /** Default O-BELM. */
  readonly sampler?: SamplerSpec;
  /** Default: the model's `defaults.steps`. */
  readonly steps?: number;
  /** CFG scale g (docs/math.md §7); default: the model's default for the task. */
  readonly guidance?: number;
  /** The unconditional prompt of CFG; default ''. */
  readonly negativePrompt?: string;
  /** Model timestep of the clean-end inversion call; default 1 (official). */
  readonly firstInversionTimestep?: number;
  readonly onProgress?: (progress: PipelineProgress) => void | Promise<void>;
  readonly signal?: AbortSignal;
  /** Continue from a checkpoint reported by `onProgress` (same inputs and options). */
  readonly resume?: PipelineCheckpoint;
}
