import type { DiffusionModel, PipelineProgress } from '@obelm/engine';
import type { MeteredModel } from '../bundles/meteredModel.ts';

/** Per-step line of report.json. */
export interface StepRecord {
  /** Pipeline stage index and direction. */
  stage: number;
  direction: 'invert' | 'sample';
  /** Steps done over the whole job, of `total`. */
  step: number;
  total: number;
  /** Wall time of the step, and the part of it spent inside the model. */
  ms: number;
  modelMs: number;
}

/**
 * What a run has done so far, kept outside the run so that a stopped run can still be settled from it: the model
 * (metered), every step with its times, and the last step's state (the checkpoint a stop saves).
 */
export class RunTrace {
  readonly claimedAt = performance.now();
  readonly steps: StepRecord[] = [];
  lastStep: PipelineProgress | undefined;
  metered: MeteredModel | undefined;
  private stepStart = performance.now();
  private modelMsBefore = 0;

  /** Starts the step clock (when the pipeline starts, after the inputs are loaded). */
  start(metered: MeteredModel): void {
    this.metered = metered;
    this.stepStart = performance.now();
    this.modelMsBefore = metered.modelMs();
  }

  /** Records a finished step; the clock of the next one starts at `resume()`, after the step's own writes. */
  step(progress: PipelineProgress): void {
    const modelMs = this.modelMs();
    this.steps.push({
      stage: progress.stage,
      direction: progress.stageName,
      step: progress.step,
      total: progress.total,
      ms: performance.now() - this.stepStart,
      modelMs: modelMs - this.modelMsBefore,
    });
    this.lastStep = progress;
  }

  resume(): void {
    this.stepStart = performance.now();
    this.modelMsBefore = this.modelMs();
  }

  /** Milliseconds spent inside the model so far (what a job is billed for). */
  modelMs(): number {
    return this.metered?.modelMs() ?? 0;
  }

  get model(): DiffusionModel | undefined {
    return this.metered?.model;
  }
}
