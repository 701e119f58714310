import { EngineError } from '../errors.ts';
import { assertFinite, assertLength, withBatch } from '../tensor.ts';
import type { SamplerState, Tensor } from '../types.ts';
import type { DiffusionModel } from './model.ts';

/** Checks an image batch against the model ([B, 3, H, W], finite) and returns its batch size. */
export function imageBatch(model: DiffusionModel, image: Tensor): number {
  const [batch, channels, height, width] = image.shape;
  const [h, w] = model.imageSize;
  if (image.shape.length !== 4 || channels !== 3 || height !== h || width !== w) {
    throw new EngineError(
      'shape_mismatch',
      `images must be [B, 3, ${h}, ${w}], got [${image.shape.join(', ')}]`,
    );
  }
  assertLength(image.data, image.shape, 'the image');
  assertFinite(image.data, 'the image');
  return batch!;
}

/** Pixels -> latent, checked against the model's latent shape. */
export async function encodeImage(
  model: DiffusionModel,
  image: Tensor,
  signal?: AbortSignal,
): Promise<Float64Array> {
  const latent = await model.encode(image, signal);
  assertLength(latent, withBatch(model.latentShape, image.shape[0]!), 'the encoded latent');
  return latent;
}

/** Latent -> pixels [B, 3, H, W]. */
export async function decodeLatent(
  model: DiffusionModel,
  latent: Float64Array,
  batch: number,
  signal?: AbortSignal,
): Promise<Tensor> {
  const data = await model.decode({ data: latent, shape: withBatch(model.latentShape, batch) }, signal);
  const shape = [batch, 3, ...model.imageSize];
  assertLength(data, shape, 'the decoded image');
  return { data, shape };
}

/** The clean latent x_0 a finished sampling run holds, whatever the sampler's state kind. */
export function cleanLatent(state: SamplerState): Float64Array {
  if (state.index !== (state.kind === 'pair' ? 1 : 0)) {
    throw new EngineError('invalid_state', `the ${state.kind} state at index ${state.index} is not at x_0`);
  }
  return state.kind === 'pair' ? state.lower : state.x;
}

/** The batch size of a state of the model's latent shape. */
export function stateBatch(model: DiffusionModel, state: SamplerState): number {
  const rowSize = model.latentShape.slice(1).reduce((a, b) => a * b, 1);
  const length = state.kind === 'pair' ? state.upper.length : state.x.length;
  if (length === 0 || length % rowSize !== 0) {
    throw new EngineError(
      'shape_mismatch',
      `a state of ${length} values is not a batch of [${model.latentShape}]`,
    );
  }
  return length / rowSize;
}

/**
 * Where an inversion (invert, edit) starts: an image, whose latent x_0 is inverted with one DDIM step first, or
 * a kept state at the clean end, e.g. the pair (x_1, x_0) a sample run ends with. Inverting from that pair skips
 * the DDIM step and retraces the sampled trajectory exactly (docs/math.md §4, "invert(sample(x_N))").
 */
export type CleanStart =
  | { readonly image: Tensor; readonly state?: undefined }
  | { readonly state: SamplerState; readonly image?: undefined };

/** The batch size of a clean start; exactly one of `image` and `state` must be given. */
export function cleanStartBatch(model: DiffusionModel, start: CleanStart): number {
  if ((start.image === undefined) === (start.state === undefined)) {
    throw new EngineError('invalid_state', 'an inversion needs exactly one of `image` and `state`');
  }
  if (start.state === undefined) return imageBatch(model, start.image);
  cleanLatent(start.state); // only a state at x_0 starts an inversion from the clean end
  return stateBatch(model, start.state);
}

/** The state an inversion begins from: the encoded image as x_0 alone, or the kept state as it is. */
export async function cleanStartState(
  model: DiffusionModel,
  start: CleanStart,
  signal?: AbortSignal,
): Promise<SamplerState> {
  if (start.state !== undefined) return start.state;
  return { kind: 'single', index: 0, x: await encodeImage(model, start.image, signal) };
}
