import type { SamplerState, Tensor } from '../types.ts';
import { cleanLatent, decodeLatent, encodeImage, imageBatch } from './images.ts';
import type { DiffusionModel } from './model.ts';
import type { PipelineOptions } from './options.ts';
import { runStages, setup } from './stages.ts';

export interface ReconstructRequest extends PipelineOptions {
  readonly image: Tensor;
  /** Used in both directions; default ''. */
  readonly prompt?: string;
}

export interface ReconstructResult {
  readonly image: Tensor;
  /** The inverted noise (x_N, x_{N-1}). */
  readonly inverted: SamplerState;
  /** max |x_0' - x_0| over the latent: ~1e-13 for exact samplers, O(1) for DDIM. */
  readonly latentMaxAbsError: number;
  /** Mean squared pixel error on [-1, 1]; its floor is the autoencoder's own error. */
  readonly pixelMse: number;
}

/**
 * The exactness proof per job (docs/math.md §4): invert, then sample from the stored pair with the same
 * prompt and guidance. Stages: 0 = invert, 1 = sample.
 */
export async function reconstruct(
  model: DiffusionModel,
  req: ReconstructRequest,
): Promise<ReconstructResult> {
  const batch = imageBatch(model, req.image);
  const s = setup(model, req, batch, model.defaults.guidance);
  const latent = await encodeImage(model, req.image, req.signal);
  const prompt = req.prompt ?? '';
  const [inverted, state] = await runStages(
    model,
    s,
    [
      {
        direction: 'invert',
        prompt,
        to: s.grid.steps,
        begin: () => ({ kind: 'single', index: 0, x: latent }),
      },
      { direction: 'sample', prompt, to: 0, begin: ([inv]) => inv! },
    ],
    req,
  );
  const x0 = cleanLatent(state!);
  const image = await decodeLatent(model, x0, batch, req.signal);
  let latentMaxAbsError = 0;
  for (let j = 0; j < x0.length; j++)
    latentMaxAbsError = Math.max(latentMaxAbsError, Math.abs(x0[j]! - latent[j]!));
  let sum = 0;
  for (let j = 0; j < image.data.length; j++) sum += (image.data[j]! - req.image.data[j]!) ** 2;
  return { image, inverted: inverted!, latentMaxAbsError, pixelMse: sum / image.data.length };
}
