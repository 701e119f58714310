/**
 * The one place where host tensors change precision on their way into and out of onnxruntime.
 *
 * Precision rule (docs/math.md §10, docs/demo-model.md §4): the engine keeps states in
 * float64; a model input is rounded to the session's float type exactly once (round-to-nearest-even,
 * `Math.fround` semantics for float32), so identical float64 states always give identical model inputs.
 */
import type { OnnxDType } from '../onnx/tensor.ts';
import { ModelError } from './errors.ts';

/** A tensor on the host, in the array type its dtype implies (float16 = raw half bits). */
export type HostTensor =
  | { readonly dtype: 'float64'; readonly dims: readonly number[]; readonly data: Float64Array }
  | { readonly dtype: 'float32'; readonly dims: readonly number[]; readonly data: Float32Array }
  | { readonly dtype: 'float16'; readonly dims: readonly number[]; readonly data: Uint16Array }
  | { readonly dtype: 'int64'; readonly dims: readonly number[]; readonly data: BigInt64Array }
  | { readonly dtype: 'int32'; readonly dims: readonly number[]; readonly data: Int32Array };

/** Converts `t` to the element type a model input declares. Same type: returned as is, no copy. */
export function castForInput(name: string, t: HostTensor, target: OnnxDType): HostTensor {
  if (t.dtype === target) return t;
  switch (target) {
    case 'float64':
      return { dtype: target, dims: t.dims, data: asFloat64(t) };
    case 'float32':
      // Float32Array's conversion is IEEE round-to-nearest-even, i.e. Math.fround, applied once.
      return { dtype: target, dims: t.dims, data: Float32Array.from(asFloat64(t)) };
    case 'float16':
      return { dtype: target, dims: t.dims, data: float64ArrayToHalf(asFloat64(t)) };
    case 'int64':
      return {
        dtype: target,
        dims: t.dims,
        data: BigInt64Array.from(asFloat64(t), (v) => BigInt(integer(name, v))),
      };
    case 'int32':
      return { dtype: target, dims: t.dims, data: Int32Array.from(asFloat64(t), (v) => integer(name, v)) };
  }
}

/** Floats come back as float64 (exact widening); integer outputs keep their type. */
export function widenOutput(t: HostTensor): HostTensor {
  switch (t.dtype) {
    case 'float32':
      return { dtype: 'float64', dims: t.dims, data: Float64Array.from(t.data) };
    case 'float16':
      return { dtype: 'float64', dims: t.dims, data: halfArrayToFloat64(t.data) };
    default:
      return t;
  }
}

/*
 * float64 <-> IEEE binary16 on the bits. A float64 is read as two little-endian 32-bit words (every platform
 * Node runs on is little-endian): `hi` holds sign (1) | exponent (11, bias 1023) | top 20 mantissa bits, `lo`
 * the low 32 mantissa bits. A half is sign (1) | exponent (5, bias 15) | mantissa (10). The words are viewed
 * as Int32Array, not Uint32Array, so that V8 keeps every value a small integer (a uint32 above 2^31 would be
 * a heap double); the bit operations below do not care about the sign of the word.
 */

/** IEEE binary16 bits of every element, each rounded to nearest even directly from float64. */
export function float64ArrayToHalf(source: Float64Array): Uint16Array {
  const words = new Int32Array(source.buffer, source.byteOffset, source.length * 2);
  const out = new Uint16Array(source.length);
  for (let i = 0; i < out.length; i++) out[i] = halfFromWords(words[2 * i + 1]!, words[2 * i]!);
  return out;
}

/** Exact float64 values of IEEE binary16 bits (NaNs keep their sign and payload). */
export function halfArrayToFloat64(source: Uint16Array): Float64Array {
  const out = new Float64Array(source.length);
  const words = new Int32Array(out.buffer); // low words stay 0: a half has only 10 mantissa bits
  for (let i = 0; i < source.length; i++) words[2 * i + 1] = highWordOfHalf(source[i]!);
  return out;
}

const scalar = new Float64Array(1);
const scalarWords = new Int32Array(scalar.buffer);

/** IEEE binary16 bits of `x`, rounded to nearest even directly from float64 (no double rounding via f32). */
export function float64ToHalf(x: number): number {
  scalar[0] = x;
  return halfFromWords(scalarWords[1]!, scalarWords[0]!);
}

export function halfToFloat64(h: number): number {
  scalarWords[0] = 0;
  scalarWords[1] = highWordOfHalf(h);
  return scalar[0]!;
}

/**
 * Rounds to nearest, ties to even: the half keeps the leading bits, `round` is the first bit dropped and
 * `sticky` is non-zero when any later bit is set. Adding the round-up carry to the whole bit pattern moves a
 * full mantissa into the exponent, and the largest finite half (0x7bff) into infinity (0x7c00).
 */
function halfFromWords(hi: number, lo: number): number {
  const sign = (hi >>> 16) & 0x8000;
  const exponent = (hi >>> 20) & 0x7ff;
  const mantissa = hi & 0xfffff; // top 20 of the 52 mantissa bits
  if (exponent === 0x7ff) {
    if ((mantissa | lo) === 0) return sign | 0x7c00;
    return sign | 0x7e00 | (mantissa >>> 10); // NaN stays a (quiet) NaN with its sign and top payload bits
  }
  const e = exponent - 1023;
  if (e > 15) return sign | 0x7c00; // >= 2^16: overflow
  if (e >= -14) {
    // Normal half: keep 10 mantissa bits, drop 42 (10 from hi, all of lo).
    const half = sign | ((e + 15) << 10) | (mantissa >>> 10);
    const round = (mantissa >>> 9) & 1;
    const sticky = (mantissa & 0x1ff) | lo;
    return half + (round & (sticky !== 0 ? 1 : half & 1));
  }
  if (e < -25) return sign; // below half the smallest subnormal (2^-25): signed zero (float64 subnormals too)
  // Subnormal half, value = q x 2^-24: of the 53-bit significand 1.m keep the bits worth >= 2^-24.
  const significand = 0x100000 | mantissa; // the 21 significand bits in hi
  const shift = -e - 4; // 11 (e = -15) .. 21 (e = -25): bits of `significand` below 2^-24
  const half = sign | (significand >>> shift);
  const round = (significand >>> (shift - 1)) & 1;
  const sticky = (significand & ((1 << (shift - 1)) - 1)) | lo;
  return half + (round & (sticky !== 0 ? 1 : half & 1));
}

/** The high word of the float64 equal to half `h` (its low word is always 0). */
function highWordOfHalf(h: number): number {
  const sign = (h & 0x8000) << 16;
  const exponent = (h >>> 10) & 0x1f;
  const mantissa = h & 0x3ff;
  if (exponent === 0x1f) return sign | 0x7ff00000 | (mantissa << 10); // infinity, NaN
  if (exponent !== 0) return sign | ((exponent - 15 + 1023) << 20) | (mantissa << 10);
  if (mantissa === 0) return sign; // signed zero
  // Subnormal m x 2^-24: normalise so the leading bit at position p becomes the implicit 1.
  const p = 31 - Math.clz32(mantissa);
  return sign | ((p - 24 + 1023) << 20) | (((mantissa << (10 - p)) & 0x3ff) << 10);
}

/** Any numeric tensor as float64 values (exact: every float32, float16 and safe int64 fits). */
function asFloat64(t: HostTensor): Float64Array {
  switch (t.dtype) {
    case 'float64':
      return t.data;
    case 'float16':
      return halfArrayToFloat64(t.data);
    case 'int64':
      return Float64Array.from(t.data, Number);
    default:
      return Float64Array.from(t.data);
  }
}

function integer(name: string, v: number): number {
  if (!Number.isInteger(v))
    throw new ModelError('runtime_bad_feed', `input '${name}' needs integers, got ${v}`);
  return v;
}
