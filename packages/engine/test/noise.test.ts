import { describe, expect, it } from 'vitest';
import { gaussianNoise } from '../src/index.ts';

describe('seeded Gaussian noise', () => {
  it('matches the documented algorithm bit for bit (values from a Python port)', () => {
    expect([...gaussianNoise(0, 5)]).toEqual([
      0.12177618600477014, 0.49342493394909925, -0.5381877552332646, 1.6753298369058043, -0.8954710778463916,
    ]);
    expect([...gaussianNoise(4294967295, 3)]).toEqual([
      -1.3691942349566795, 0.2178859604105225, -0.4019053010782091,
    ]);
  });

  it('is a prefix-stable stream with standard normal moments', () => {
    const z = gaussianNoise(42, 200_001);
    expect(z.subarray(0, 5)).toEqual(gaussianNoise(42, 5));
    const mean = z.reduce((a, b) => a + b, 0) / z.length;
    const variance = z.reduce((a, b) => a + (b - mean) ** 2, 0) / z.length;
    expect(Math.abs(mean)).toBeLessThan(0.01);
    expect(Math.abs(variance - 1)).toBeLessThan(0.01);
    expect(gaussianNoise(43, 5)).not.toEqual(gaussianNoise(42, 5));
  });

  it('rejects seeds outside [0, 2^32)', () => {
    for (const seed of [-1, 2 ** 32, 1.5, Number.NaN]) {
      expect(() => gaussianNoise(seed, 4)).toThrow(expect.objectContaining({ code: 'invalid_seed' }));
    }
  });
});
