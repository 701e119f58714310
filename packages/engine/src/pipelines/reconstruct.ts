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
  /**
   * Where that error sits: max over channels c of |x_0'[b, c, y, x] - x_0[b, c, y, x]|, shape [B, ...latent
   * spatial dims] (e.g. [1, 64, 64] for SD's [1, 4, 64, 64] latent). Its maximum is `latentMaxAbsError`.
   */
  readonly errorMap: Tensor;
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
  const {
    states: [inverted, state],
  } = await runStages(
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
  const errorMap = channelMaxAbsError(x0, latent, [batch, ...model.latentShape.slice(1)]);
  let latentMaxAbsError = 0;
  for (const e of errorMap.data) latentMaxAbsError = Math.max(latentMaxAbsError, e);
  let sum = 0;
  for (let j = 0; j < image.data.length; j++) sum += (image.data[j]! - req.image.data[j]!) ** 2;
  return { image, inverted: inverted!, latentMaxAbsError, errorMap, pixelMse: sum / image.data.length };
}

/** max_c |x[n, c, ...] - y[n, c, ...]| of two latents of `shape` [B, C, ...spatial]: a [B, ...spatial] map. */
function channelMaxAbsError(x: Float64Array, y: Float64Array, shape: readonly number[]): Tensor {
  const [batch, channels, ...spatial] = shape as [number, number, ...number[]];
  const plane = spatial.reduce((n, d) => n * d, 1);
  const data = new Float64Array(batch * plane);
  for (let n = 0; n < batch; n++)
    for (let c = 0; c < channels; c++)
      for (let p = 0; p < plane; p++) {
        const j = (n * channels + c) * plane + p;
        const k = n * plane + p;
        data[k] = Math.max(data[k]!, Math.abs(x[j]! - y[j]!));
      }
  return { data, shape: [batch, ...spatial] };
}
