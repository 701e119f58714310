import { EngineError } from '../errors.ts';
import { restartState } from '../samplers/state.ts';
import type { SamplerState, Tensor } from '../types.ts';
import { type CleanStart, cleanLatent, cleanStartBatch, cleanStartState, decodeLatent } from './images.ts';
import type { LastEps } from './lastEps.ts';
import type { DiffusionModel } from './model.ts';
import type { PipelineOptions } from './options.ts';
import { runStages, setup } from './stages.ts';

/**
 * Edit an image (pixels in [-1, 1], [B, 3, H, W]) or a kept clean-end state: a sample run's final pair
 * (x_1, x_0) inverts back along that run's own trajectory (docs/math.md §4), so a generated image is edited
 * from the states that made it.
 */
export type EditRequest = PipelineOptions &
  CleanStart & {
    readonly sourcePrompt: string;
    readonly targetPrompt: string;
    /** In (0, 1]: the fraction of the grid re-sampled under the target prompt; default the model's. */
    readonly strength?: number;
    /** 'pair' = from the stored pair (official), 'single' = one DDIM step first; default the model's. */
    readonly restart?: 'pair' | 'single';
  };

export interface EditResult {
  readonly image: Tensor;
  /** The final sampling state (x_1, x_0 for O-BELM/BDIA). */
  readonly state: SamplerState;
  /** The partial inversion at index N - f: the reusable noise artifact of this edit. */
  readonly inverted: SamplerState;
  /** The clean latent x_0 the partial inversion started from. */
  readonly latent: Float64Array;
  /** The eps of the partial inversion's last step, at an array of `inverted` (lastEps.ts); absent for DDIM. */
  readonly invertedLastEps?: LastEps;
  /** Frozen steps f. */
  readonly freeze: number;
}

/**
 * Frozen steps f for an edit strength: f = round(N (1 - strength)), at most N - 1 so at least one step is
 * edited. strength 1 inverts all the way (f = 0); strength 0.5 is the demo's f = N/2 (docs/demo-model.md §5).
 */
export function freezeSteps(steps: number, strength: number): number {
  if (!(strength > 0 && strength <= 1)) {
    throw new EngineError('invalid_freeze', `edit strength must be in (0, 1], got ${strength}`);
  }
  return Math.min(steps - 1, Math.round(steps * (1 - strength)));
}

/**
 * Edit (docs/math.md §8: freeze, then a restart): invert N - f steps with the source prompt to x_{N-f},
 * then sample back with the target prompt, restarting from the stored pair or from x_{N-f} alone.
 * Stages: 0 = invert (source prompt), 1 = sample (target prompt).
 */
export async function edit(model: DiffusionModel, req: EditRequest): Promise<EditResult> {
  const batch = cleanStartBatch(model, req);
  const s = setup(model, req, batch, model.defaults.editGuidance);
  const freeze = freezeSteps(s.grid.steps, req.strength ?? model.defaults.editStrength);
  const restart = req.restart ?? model.defaults.editRestart;
  const start = await cleanStartState(model, req, req.signal);
  const {
    states: [inverted, state],
    lastEps: [invertedLastEps],
  } = await runStages(
    model,
    s,
    [
      {
        direction: 'invert',
        prompt: req.sourcePrompt,
        to: s.grid.steps - freeze,
        begin: () => start,
      },
      { direction: 'sample', prompt: req.targetPrompt, to: 0, begin: ([inv]) => restartState(inv!, restart) },
    ],
    req,
  );
  const image = await decodeLatent(model, cleanLatent(state!), batch, req.signal);
  return {
    image,
    state: state!,
    inverted: inverted!,
    latent: cleanLatent(start),
    freeze,
    ...(invertedLastEps ? { invertedLastEps } : {}),
  };
}
