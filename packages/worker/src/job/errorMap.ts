/**
 * A reconstruct job's error map as a PNG heatmap: each latent position's error max_c |x_0' - x_0| coloured on
 * core's `ERROR_MAP_SCALE` (log10, clamped), darkest at or below `min` (an exact zero included), brightest at or
 * above `max`.
 */
import { ERROR_MAP_SCALE } from '@obelm/core';
import type { Tensor } from '@obelm/engine';
import { encodeImage } from '@obelm/models';

type Rgb = readonly [number, number, number];

/**
 * A perceptual ramp, dark to bright with luminance rising all along (matplotlib's "inferno", CC0, sampled at ten
 * evenly spaced points), interpolated linearly between its stops.
 */
const RAMP: readonly Rgb[] = [
  [0x00, 0x00, 0x04],
  [0x1b, 0x0c, 0x42],
  [0x4b, 0x0c, 0x6b],
  [0x78, 0x1c, 0x6d],
  [0xa5, 0x2c, 0x60],
  [0xcf, 0x44, 0x46],
  [0xed, 0x69, 0x25],
  [0xfb, 0x9b, 0x06],
  [0xf7, 0xd1, 0x3d],
  [0xfc, 0xff, 0xa4],
];

const LOG_MIN = Math.log10(ERROR_MAP_SCALE.min);
const LOG_MAX = Math.log10(ERROR_MAP_SCALE.max);

/** Where an error sits on the scale, 0 (min or below, or zero) to 1 (max or above; NaN too: it is no exactness). */
export function errorMapPosition(error: number): number {
  if (Number.isNaN(error)) return 1;
  if (error <= ERROR_MAP_SCALE.min) return 0;
  return Math.min(1, (Math.log10(error) - LOG_MIN) / (LOG_MAX - LOG_MIN));
}

/** The heatmap colour of an error, as 0..255 RGB bytes. */
export function errorMapColour(error: number): Rgb {
  const at = errorMapPosition(error) * (RAMP.length - 1);
  const i = Math.min(Math.floor(at), RAMP.length - 2);
  const f = at - i;
  const [a, b] = [RAMP[i]!, RAMP[i + 1]!];
  return [0, 1, 2].map((c) => Math.round(a[c]! + f * (b[c]! - a[c]!))) as unknown as Rgb;
}

/** PNG bytes of the first map of a [B, H, W] error map (the engine's `ReconstructResult.errorMap`). */
export async function encodeErrorMap(map: Tensor): Promise<Uint8Array> {
  const [, height, width] = map.shape;
  if (map.shape.length !== 3 || !height || !width) {
    throw new Error(`an error map is [B, H, W], got [${map.shape}]`);
  }
  const plane = height * width;
  // The models package's encoder takes [-1, 1] CHW pixels and maps x back to round((x + 1) * 127.5): byte v
  // goes in as v / 127.5 - 1 and comes out as v.
  const pixels = new Float64Array(3 * plane);
  for (let p = 0; p < plane; p++) {
    const rgb = errorMapColour(map.data[p]!);
    for (let c = 0; c < 3; c++) pixels[c * plane + p] = rgb[c]! / 127.5 - 1;
  }
  return encodeImage({ data: pixels, shape: [1, 3, height, width] }, 'png');
}
