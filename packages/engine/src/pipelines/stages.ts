import { guidedEps } from '../cfg.ts';
import { EngineError, throwIfAborted } from '../errors.ts';
import { buildGrid } from '../grid.ts';
import type { Direction } from '../samplers/context.ts';
import { runSampler, stepsBetween } from '../samplers/run.ts';
import { numel, withBatch } from '../tensor.ts';
import type { Embedding, EpsPredictor, Grid, SamplerSpec, SamplerState } from '../types.ts';
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

/**
 * Runs the stages in order with one progress count across all of them, resuming at `opts.resume` if given.
 * Returns every stage's end state.
 */
export async function runStages(
  model: DiffusionModel,
  s: PipelineSetup,
  stages: readonly Stage[],
  opts: PipelineOptions,
): Promise<SamplerState[]> {
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
  const embed = embedder(model, opts.signal);
  let before = planned.slice(0, completed.length).reduce((a, b) => a + b, 0);

  for (let k = completed.length; k < stages.length; k++) {
    const stage = stages[k]!;
    const start = resume && k === resume.stage ? resume.state : stage.begin(completed);
    const alreadyDone = planned[k]! - stepsBetween(start, stage.direction, stage.to, s.grid.steps);
    const eps = await guided(model, embed, stage.prompt, opts.negativePrompt ?? '', s.guidance);
    throwIfAborted(opts.signal);
    const doneBefore = before + alreadyDone;
    const end = await runSampler(s.spec, stage.direction, start, stage.to, {
      grid: s.grid,
      eps,
      shape: s.shape,
      firstInversionTimestep: opts.firstInversionTimestep,
      signal: opts.signal,
      onStep: (p) =>
        opts.onProgress?.({
          stage: k,
          stageName: stage.direction,
          step: doneBefore + p.step,
          total,
          state: p.state,
          completed: [...completed],
        }),
    });
    completed.push(end);
    before += planned[k]!;
  }
  return completed;
}

type Embedder = (prompt: string) => Promise<Embedding>;

/** Embeds each distinct prompt once per pipeline run. */
function embedder(model: DiffusionModel, signal?: AbortSignal): Embedder {
  const cache = new Map<string, Promise<Embedding>>();
  return (prompt) => {
    let emb = cache.get(prompt);
    if (!emb) {
      emb = model.embed(prompt, signal);
      cache.set(prompt, emb);
    }
    return emb;
  };
}

async function guided(
  model: DiffusionModel,
  embed: Embedder,
  prompt: string,
  negative: string,
  guidance: number,
): Promise<EpsPredictor> {
  const cond = await embed(prompt);
  // The unconditional embedding is only computed when CFG is active (docs/math.md §7).
  const uncond = guidance > 1 ? await embed(negative) : cond;
  return guidedEps(model.eps, cond, uncond, guidance);
}
