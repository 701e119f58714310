import { EngineError } from '../errors.ts';
import { gaussianNoise } from '../noise.ts';
import { numel, withBatch } from '../tensor.ts';
import type { SamplerState, Tensor } from '../types.ts';
import { cleanLatent, decodeLatent, stateBatch } from './images.ts';
import type { LastEps } from './lastEps.ts';
import type { DiffusionModel } from './model.ts';
import type { PipelineOptions } from './options.ts';
import { runStages, setup } from './stages.ts';

export interface SampleRequest extends PipelineOptions {
  readonly prompt: string;
  /** Start from this state (a stored noise artifact, e.g. an inversion's pair) ... */
  readonly state?: SamplerState;
  /** ... or from x_N = seeded Gaussian noise (see noise.ts), batch of one. */
  readonly seed?: number;
}

export interface SampleResult {
  /** Pixels in [-1, 1], [B, 3, H, W]. */
  readonly image: Tensor;
  /** The final state: (x_1, x_0) for O-BELM/BDIA, kept so the image can be inverted exactly back to its noise. */
  readonly state: SamplerState;
  /** The clean latent x_0 `state` holds (what decodes to `image`). */
  readonly latent: Float64Array;
  /** The eps of the last step, at x_1 in `state` (O-BELM, BDIA; lastEps.ts); absent for DDIM and EDICT. */
  readonly lastEps?: LastEps;
}

/** Noise (a stored state, or a seed) -> image (one stage: sample to x_0). */
export async function sample(model: DiffusionModel, req: SampleRequest): Promise<SampleResult> {
  if ((req.state === undefined) === (req.seed === undefined)) {
    throw new EngineError('invalid_state', 'sample needs exactly one of `state` and `seed`');
  }
  const batch = req.state ? stateBatch(model, req.state) : 1;
  const s = setup(model, req, batch, model.defaults.guidance);
  const begin = (): SamplerState =>
    req.state ?? {
      kind: 'single',
      index: s.grid.steps,
      x: gaussianNoise(req.seed!, numel(withBatch(model.latentShape, 1))),
    };
  const {
    states: [state],
    lastEps: [lastEps],
  } = await runStages(model, s, [{ direction: 'sample', prompt: req.prompt, to: 0, begin }], req);
  const latent = cleanLatent(state!);
  const image = await decodeLatent(model, latent, batch, req.signal);
  return { image, state: state!, latent, ...(lastEps ? { lastEps } : {}) };
}
