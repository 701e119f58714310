import type { JobCheckpoint } from '@obelm/core';
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
 * (metered), every step with its times, the last step's state (the checkpoint a stop saves) and the checkpoint
 * the job item points at now.
 */
export class RunTrace {
  readonly claimedAt = performance.now();
  readonly steps: StepRecord[] = [];
  lastStep: PipelineProgress | undefined;
  metered: MeteredModel | undefined;
  /** The checkpoint the item records: the one the run resumed from, then each one it saved. */
  checkpoint: JobCheckpoint | undefined;
  /** GPU time of the work the run resumed from (its checkpoint's `gpuMs`); 0 for a run from the start. */
  resumedGpuMs = 0;
  /**
   * Checkpoint objects the item does not point at (superseded, or written by a save that was not recorded) and
   * not yet deleted: removed after each recorded checkpoint, and all of them once the job succeeded.
   */
  readonly strayCheckpointKeys = new Set<string>();
  /** Whether the run tried to save a periodic checkpoint: its objects may exist even where the save failed. */
  triedCheckpoint = false;
  private stepStart = performance.now();
  private modelMsBefore = 0;
  private modelMsAtCheckpoint = 0;

  /** Starts the step clock (when the pipeline starts, after the inputs are loaded). */
  start(metered: MeteredModel): void {
    this.metered = metered;
    this.stepStart = performance.now();
    this.modelMsBefore = metered.modelMs();
    this.modelMsAtCheckpoint = this.modelMsBefore;
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

  /**
   * Whether `everyMs` of model time passed since the run started or last tried to checkpoint, with steps still
   * to go (the last step is followed by the outputs, not by a checkpoint). Model time, not wall time: it is the
   * work a crash would lose.
   */
  checkpointDue(everyMs: number): boolean {
    const last = this.lastStep;
    if (everyMs <= 0 || !last || last.step >= last.total) return false;
    return this.modelMs() - this.modelMsAtCheckpoint >= everyMs;
  }

  /** The item points at `checkpoint` now: the objects of the one before it that it does not share are strays. */
  recordCheckpoint(checkpoint: JobCheckpoint): void {
    const kept = checkpointKeys(checkpoint);
    for (const key of this.checkpoint ? checkpointKeys(this.checkpoint) : [])
      this.strayCheckpointKeys.add(key);
    for (const key of kept) this.strayCheckpointKeys.delete(key);
    this.checkpoint = checkpoint;
  }

  /** Restarts the checkpoint clock (also after a failed save: a faulty store is not retried every step). */
  checkpointTried(): void {
    this.triedCheckpoint = true;
    this.modelMsAtCheckpoint = this.modelMs();
  }

  resume(): void {
    this.stepStart = performance.now();
    this.modelMsBefore = this.modelMs();
  }

  /** Milliseconds spent inside the model so far (what a job is billed for). */
  modelMs(): number {
    return this.metered?.modelMs() ?? 0;
  }

  /** GPU time of the work that led to where the run is: what a checkpoint saved now records (billing.ts). */
  billableGpuMs(): number {
    return Math.round(this.resumedGpuMs + this.modelMs());
  }

  get model(): DiffusionModel | undefined {
    return this.metered?.model;
  }
}

/** Every object of a checkpoint: its state and the end states of the stages before it. */
export const checkpointKeys = (checkpoint: JobCheckpoint): string[] => [
  checkpoint.key,
  ...checkpoint.completedKeys,
];
