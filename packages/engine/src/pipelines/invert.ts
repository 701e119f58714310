import type { SamplerState } from '../types.ts';
import { type CleanStart, cleanLatent, cleanStartBatch, cleanStartState } from './images.ts';
import type { LastEps } from './lastEps.ts';
import type { DiffusionModel } from './model.ts';
import type { PipelineOptions } from './options.ts';
import { runStages, setup } from './stages.ts';

/**
 * Invert an image (pixels in [-1, 1], [B, 3, H, W]) or a kept clean-end state, e.g. a sample run's final pair
 * (x_1, x_0): from that pair the inversion returns the sample's starting noise exactly (docs/math.md §4).
 */
export type InvertRequest = PipelineOptions &
  CleanStart & {
    /** Default ''. */
    readonly prompt?: string;
  };

export interface InvertResult {
  /** The noise: the pair (x_N, x_{N-1}) for O-BELM/BDIA (keep both: sampling from it is exact). */
  readonly state: SamplerState;
  /** The clean latent x_0 the inversion started from. */
  readonly latent: Float64Array;
  /** The eps of the last step, at x_{N-1} in `state` (O-BELM, BDIA, EDICT; lastEps.ts); absent for DDIM. */
  readonly lastEps?: LastEps;
}

/** Image (or clean-end state) -> noise (one stage: invert from x_0 to x_N). */
export async function invert(model: DiffusionModel, req: InvertRequest): Promise<InvertResult> {
  const batch = cleanStartBatch(model, req);
  const s = setup(model, req, batch, model.defaults.guidance);
  const start = await cleanStartState(model, req, req.signal);
  const {
    states: [state],
    lastEps: [lastEps],
  } = await runStages(
    model,
    s,
    [{ direction: 'invert', prompt: req.prompt ?? '', to: s.grid.steps, begin: () => start }],
    req,
  );
  return { state: state!, latent: cleanLatent(start), ...(lastEps ? { lastEps } : {}) };
}
