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
