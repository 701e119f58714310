import { ERROR_MAP_SCALE } from '@obelm/core';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { encodeErrorMap, errorMapColour } from '../src/job/errorMap.ts';

/** Relative luminance of sRGB bytes (Rec. 709 weights on the encoded values: enough to order a ramp). */
const luminance = ([r, g, b]: readonly number[]) => 0.2126 * r! + 0.7152 * g! + 0.0722 * b!;

describe('error map colours', () => {
  const darkest = errorMapColour(0);
  const brightest = errorMapColour(ERROR_MAP_SCALE.max);

  it('an exact zero and the scale minimum (and below) are the darkest colour; the maximum (and above) the brightest', () => {
    for (const e of [ERROR_MAP_SCALE.min, ERROR_MAP_SCALE.min / 10, -0])
      expect(errorMapColour(e)).toEqual(darkest);
    expect(errorMapColour(ERROR_MAP_SCALE.max * 10)).toEqual(brightest);
    expect(errorMapColour(Number.NaN)).toEqual(brightest);
    expect(luminance(darkest)).toBeLessThan(5);
    expect(luminance(brightest)).toBeGreaterThan(240);
  });

  it('brightens monotonically along the log10 scale', () => {
    let previous = -1;
    // A tenth of a decade apart, from the minimum to the maximum.
    for (let exponent = -16; exponent <= 0.001; exponent += 0.1) {
      const l = luminance(errorMapColour(10 ** exponent));
      expect(l, `at 1e${exponent.toFixed(1)}`).toBeGreaterThan(previous);
      previous = l;
    }
    // An exact sampler's ~1e-13 is near the dark end; DDIM's ~1e-2 near the bright end.
    expect(luminance(errorMapColour(1e-13))).toBeLessThan(luminance(errorMapColour(1e-2)) / 4);
  });

  it('encodes a [1, H, W] map as an H x W PNG of exactly those colours', async () => {
    const errors = [0, 1e-16, 1e-13, 1e-8, 1e-2, 1];
    const png = await encodeErrorMap({ data: Float64Array.from(errors), shape: [1, 2, 3] });
    const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
    expect([info.width, info.height, info.channels]).toEqual([3, 2, 3]);
    expect(errors.map((_, p) => [...data.subarray(3 * p, 3 * p + 3)])).toEqual(
      errors.map((e) => [...errorMapColour(e)]),
    );
  });
});
