import type { JobKind, JobMetrics, JobParams } from '@obelm/core';
import type { DiffusionModel, PipelineCheckpoint, PipelineProgress, Tensor } from '@obelm/engine';
import type { NoiseArtifact, NoiseProvenance } from '@obelm/models';

/** A job input after it was fetched and decoded. */
export type RunInput =
  | { readonly type: 'image'; readonly pixels: Tensor }
  | {
      readonly type: 'noise';
      readonly jobId: string;
      /** The kind of job that made it: where on the grid its state sits (core artifacts.ts). */
      readonly jobKind: JobKind;
      readonly artifact: NoiseArtifact;
    };

export interface RunRequest<P extends JobParams = JobParams> {
  readonly params: P;
  readonly model: DiffusionModel;
  /** Where this run computes eps: recorded in the noise artifact it writes. */
  readonly hardware: NoiseProvenance;
  readonly inputs: readonly RunInput[];
  readonly signal: AbortSignal;
  /** Continue from here instead of from the start; the result is bitwise what an unsplit run gives. */
  readonly resume?: PipelineCheckpoint;
  /** After every sampler step; its state (with `completed`) is a checkpoint the run can resume from. */
  readonly onStep: (progress: PipelineProgress) => Promise<void>;
}

export interface RunResult {
  /** Output images as pixels [1, 3, H, W] in [-1, 1]: one, or one per weight for `interpolate`. */
  readonly images: readonly Tensor[];
  /** The reusable state: invert/edit store the inverted state, sample its final pair. */
  readonly noise?: NoiseArtifact;
  /** Resolved settings worth reporting (freeze index, restart recipe...). */
  readonly settings: Readonly<Record<string, unknown>>;
  /** What the run measured of its exactness (provenance.ts measuredExactness lists them). */
  readonly metrics: Pick<JobMetrics, 'latentMaxAbsError' | 'pixelMse' | 'noiseEpsDrift'>;
  /** Reconstruct: max over channels of |x_0' - x_0| per latent position, [1, H, W] (stored as a heatmap). */
  readonly errorMap?: Tensor;
}

/** Runs one job's pipeline on a loaded model; pure computation, no I/O. */
export type JobRunner = (request: RunRequest) => Promise<RunResult>;
