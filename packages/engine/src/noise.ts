import { EngineError } from './errors.ts';

/**
 * Seeded standard-normal noise that is the same on every platform, so a seed names one x_N everywhere.
 *
 * Algorithm (reproducible in a few lines of Python with 32-bit masking):
 * 1. Seed expansion, SplitMix32: w = seed; four times { w = (w + 0x9E3779B9) mod 2^32; z = w;
 *    z = (z ^ z>>>16) * 0x85EBCA6B mod 2^32; z = (z ^ z>>>13) * 0xC2B2AE35 mod 2^32; z ^= z>>>16 }
 *    gives the xoshiro state s0..s3 (in that order).
 * 2. Integers, xoshiro128** (Blackman & Vigna): out = rotl(s1 * 5, 7) * 9; t = s1 << 9; s2 ^= s0; s3 ^= s1;
 *    s1 ^= s2; s0 ^= s3; s2 ^= t; s3 = rotl(s3, 11) (all mod 2^32).
 * 3. Uniforms with 53 exact bits: U = ((a >>> 5) * 2^26 + (b >>> 6)) / 2^53 from two consecutive outputs a, b.
 * 4. Normals, Marsaglia's polar method: u = 2 U1 - 1, v = 2 U2 - 1, s = u^2 + v^2; reject s >= 1 or s = 0;
 *    else emit u f, then v f, with f = sqrt(-2 ln(s) / s).
 * Steps 1-3 and the accept/reject test are integer or correctly rounded ops, so the accepted (u, v) sequence is
 * identical everywhere; only `ln` is not guaranteed correctly rounded, which can move a value by an ulp at most.
 */
export function gaussianNoise(seed: number, count: number): Float64Array {
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) {
    throw new EngineError('invalid_seed', `seed must be an integer in [0, 2^32 - 1], got ${seed}`);
  }
  if (!Number.isInteger(count) || count < 0) {
    throw new EngineError('shape_mismatch', `noise count must be a non-negative integer, got ${count}`);
  }
  const next = xoshiro128ss(splitMix32(seed));
  const uniform = () => ((next() >>> 5) * 67108864 + (next() >>> 6)) / 9007199254740992;
  const out = new Float64Array(count);
  for (let j = 0; j < count; ) {
    const u = 2 * uniform() - 1;
    const v = 2 * uniform() - 1;
    const s = u * u + v * v;
    if (s >= 1 || s === 0) continue;
    const f = Math.sqrt((-2 * Math.log(s)) / s);
    out[j++] = u * f;
    if (j < count) out[j++] = v * f;
  }
  return out;
}

function splitMix32(seed: number): Uint32Array {
  const state = new Uint32Array(4);
  let w = seed >>> 0;
  for (let k = 0; k < 4; k++) {
    w = (w + 0x9e3779b9) >>> 0;
    let z = w;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    state[k] = (z ^ (z >>> 16)) >>> 0;
  }
  return state;
}

function xoshiro128ss(s: Uint32Array): () => number {
  const rotl = (x: number, k: number) => (x << k) | (x >>> (32 - k));
  return () => {
    const out = Math.imul(rotl(Math.imul(s[1]!, 5), 7), 9) >>> 0;
    const t = s[1]! << 9;
    s[2]! ^= s[0]!;
    s[3]! ^= s[1]!;
    s[1]! ^= s[2]!;
    s[0]! ^= s[3]!;
    s[2]! ^= t;
    s[3] = rotl(s[3]!, 11);
    return out;
  };
}
