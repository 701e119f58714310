import { EngineError, throwIfAborted } from '../errors.ts';
import { buildGrid } from '../grid.ts';
import type { Direction } from '../samplers/context.ts';
import { runSampler, stepsBetween } from '../samplers/run.ts';
import { numel, withBatch } from '../tensor.ts';
import type { Grid, SamplerSpec, SamplerState } from '../types.ts';
import { embedder, guided } from './guided.ts';
import { type LastEps, lastEpsOf, recordingLastCall } from './lastEps.ts';
import type { DiffusionModel } from './model.ts';
import type { PipelineOptions } from './options.ts';

/** One sampler run of a pipeline. */
export interface Stage {
  readonly direction: Direction;
  readonly prompt: string;
  /** Target grid index: 0 for sampling, N (or N - f when editing) for inversion. */
  readonly to: number;
  /** Builds the start state from the end states of the stages before it (only restructures arrays). */
  readonly begin: (completed: readonly SamplerState[]) => SamplerState;
}

/** The settings a pipeline resolved from its options and the model's defaults. */
export interface PipelineSetup {
  readonly spec: SamplerSpec;
  readonly grid: Grid;
  readonly guidance: number;
  /** Latent shape for this batch. */
  readonly shape: readonly number[];
}

export function setup(
  model: DiffusionModel,
  opts: PipelineOptions,
  batch: number,
  guidance: number,
): PipelineSetup {
  return {
    spec: opts.sampler ?? { name: 'obelm' },
    grid: buildGrid(model.schedule, opts.steps ?? model.defaults.steps),
    guidance: opts.guidance ?? guidance,
    shape: withBatch(model.latentShape, batch),
  };
}

/** The kind of state a run ends in (a zero-step run keeps its start). */
function endKind(spec: SamplerSpec, start: SamplerState, steps: number): SamplerState['kind'] {
  if (steps === 0) return start.kind;
  if (spec.name === 'ddim') return 'single';
  return spec.name === 'edict' ? 'coupled' : 'pair';
}

/** A zero state with the kind and index a run ends in: enough to plan the later stages' step counts. */
function endSkeleton(
  kind: SamplerState['kind'],
  direction: Direction,
  to: number,
  size: number,
): SamplerState {
  const empty = new Float64Array(size);
  if (kind === 'single') return { kind, index: to, x: empty };
  if (kind === 'coupled') return { kind, index: to, x: empty, y: empty };
  // A pair's frontier is its lower state when sampling.
  return { kind, index: direction === 'sample' ? to + 1 : to, upper: empty, lower: empty };
}

/** What a pipeline's stages end with. */
export interface StagesResult {
  /** Every stage's end state, in order (those of `opts.resume.completed` included). */
  readonly states: SamplerState[];
  /**
   * Per stage, the eps of its last model call where that call was at an array of its end state (lastEps.ts);
   * undefined for a stage that ran no step here (completed before a resume) or whose last call was elsewhere.
   */
  readonly lastEps: (LastEps | undefined)[];
}

/**
 * Runs the stages in order with one progress count across all of them, resuming at `opts.resume` if given.
 */
export async function runStages(
  model: DiffusionModel,
  s: PipelineSetup,
  stages: readonly Stage[],
  opts: PipelineOptions,
): Promise<StagesResult> {
  // Plan: the step count of every stage, from skeleton states.
  const planned: number[] = [];
  const skeletons: SamplerState[] = [];
  for (const stage of stages) {
    const start = stage.begin(skeletons);
    const steps = stepsBetween(start, stage.direction, stage.to, s.grid.steps);
    planned.push(steps);
    skeletons.push(endSkeleton(endKind(s.spec, start, steps), stage.direction, stage.to, numel(s.shape)));
  }
  const total = planned.reduce((a, b) => a + b, 0);

  const resume = opts.resume;
  if (resume && (!Number.isInteger(resume.stage) || resume.stage < 0 || resume.stage >= stages.length)) {
    throw new EngineError(
      'invalid_state',
      `resume stage must be in [0, ${stages.length - 1}], got ${resume.stage}`,
    );
  }
  if (resume && resume.completed.length !== resume.stage) {
    throw new EngineError(
      'invalid_state',
      `resuming stage ${resume.stage} needs ${resume.stage} completed states`,
    );
  }
  const completed: SamplerState[] = [...(resume?.completed ?? [])];
  const lastEps: (LastEps | undefined)[] = completed.map((_, n) => resume?.completedLastEps?.[n]);
  const embed = embedder(model, opts.signal);
  let before = planned.slice(0, completed.length).reduce((a, b) => a + b, 0);

  for (let k = completed.length; k < stages.length; k++) {
    const stage = stages[k]!;
    const start = resume && k === resume.stage ? resume.state : stage.begin(completed);
    const alreadyDone = planned[k]! - stepsBetween(start, stage.direction, stage.to, s.grid.steps);
    const recorder = recordingLastCall(
      await guided(model, embed, stage.prompt, opts.negativePrompt ?? '', s.guidance),
    );
    throwIfAborted(opts.signal);
    const doneBefore = before + alreadyDone;
    const end = await runSampler(s.spec, stage.direction, start, stage.to, {
      grid: s.grid,
      eps: recorder.eps,
      shape: s.shape,
      firstInversionTimestep: opts.firstInversionTimestep,
      signal: opts.signal,
      onStep: (p) => {
        const stepEps = lastEpsOf(recorder.last(), p.state);
        return opts.onProgress?.({
          stage: k,
          stageName: stage.direction,
          step: doneBefore + p.step,
          total,
          state: p.state,
          completed: [...completed],
          ...(stepEps ? { lastEps: stepEps } : {}),
          completedLastEps: [...lastEps],
        });
      },
    });
    completed.push(end);
    // A stage resumed after its last step ran none here: its last eps is the checkpoint's.
    const resumedEnd = resume && k === resume.stage && end === resume.state ? resume.lastEps : undefined;
    lastEps.push(lastEpsOf(recorder.last(), end) ?? resumedEnd);
    before += planned[k]!;
  }
  return { states: completed, lastEps };
}
