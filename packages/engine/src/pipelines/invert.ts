import type { SamplerState, Tensor } from '../types.ts';
import { encodeImage, imageBatch } from './images.ts';
import type { DiffusionModel } from './model.ts';
import type { PipelineOptions } from './options.ts';
import { runStages, setup } from './stages.ts';

export interface InvertRequest extends PipelineOptions {
  /** Pixels in [-1, 1], [B, 3, H, W]. */
  readonly image: Tensor;
  /** Default ''. */
  readonly prompt?: string;
}

export interface InvertResult {
  /** The noise: the pair (x_N, x_{N-1}) for O-BELM/BDIA (keep both: sampling from it is exact). */
  readonly state: SamplerState;
  /** The clean latent x_0 the inversion started from. */
  readonly latent: Float64Array;
}

/** Image -> noise (one stage: invert from x_0 to x_N). */
export async function invert(model: DiffusionModel, req: InvertRequest): Promise<InvertResult> {
  const batch = imageBatch(model, req.image);
  const s = setup(model, req, batch, model.defaults.guidance);
  const latent = await encodeImage(model, req.image, req.signal);
  const [state] = await runStages(
    model,
    s,
    [
      {
        direction: 'invert',
        prompt: req.prompt ?? '',
        to: s.grid.steps,
        begin: () => ({ kind: 'single', index: 0, x: latent }),
      },
    ],
    req,
  );
  return { state: state!, latent };
}
