/**
 * The one place where host tensors change precision on their way into and out of onnxruntime.
 *
 * Precision rule (demo-model.md §5.1, spec §5 "where it is not bit-exact"): the engine keeps states in
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
      return { dtype: target, dims: t.dims, data: Float64Array.from(asNumbers(t)) };
    case 'float32':
      // Float32Array's conversion is IEEE round-to-nearest-even, i.e. Math.fround, applied once.
      return { dtype: target, dims: t.dims, data: Float32Array.from(asNumbers(t)) };
    case 'float16':
      return { dtype: target, dims: t.dims, data: Uint16Array.from(asNumbers(t), float64ToHalf) };
    case 'int64':
      return {
        dtype: target,
        dims: t.dims,
        data: BigInt64Array.from(asNumbers(t), (v) => BigInt(integer(name, v))),
      };
    case 'int32':
      return { dtype: target, dims: t.dims, data: Int32Array.from(asNumbers(t), (v) => integer(name, v)) };
  }
}

/** Floats come back as float64 (exact widening); integer outputs keep their type. */
export function widenOutput(t: HostTensor): HostTensor {
  switch (t.dtype) {
    case 'float32':
      return { dtype: 'float64', dims: t.dims, data: Float64Array.from(t.data) };
    case 'float16':
      return { dtype: 'float64', dims: t.dims, data: Float64Array.from(t.data, halfToFloat64) };
    default:
      return t;
  }
}

/** IEEE binary16 bits of `x`, rounded to nearest even directly from float64 (no double rounding via f32). */
export function float64ToHalf(x: number): number {
  if (Number.isNaN(x)) return 0x7e00;
  const sign = x < 0 || Object.is(x, -0) ? 0x8000 : 0;
  const a = Math.abs(x);
  if (a < 2 ** -14) return sign | roundHalfEven(a * 2 ** 24); // subnormal (1024 becomes the smallest normal)
  let e = Math.floor(Math.log2(a));
  if (2 ** e > a) e -= 1; // log2 can be off by one ulp near powers of two
  if (2 ** (e + 1) <= a) e += 1;
  let m = roundHalfEven(a * 2 ** (10 - e)); // 1024..2048, exact scaling by a power of two
  if (m === 2048) {
    m = 1024;
    e += 1;
  }
  if (e > 15) return sign | 0x7c00; // overflow -> infinity
  return sign | ((e + 15) << 10) | (m - 1024);
}

export function halfToFloat64(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return sign * m * 2 ** -24;
  if (e === 31) return m === 0 ? sign * Number.POSITIVE_INFINITY : Number.NaN;
  return sign * (1024 + m) * 2 ** (e - 25);
}

function roundHalfEven(y: number): number {
  const r = Math.round(y);
  return r - y === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

function asNumbers(t: HostTensor): ArrayLike<number> {
  if (t.dtype === 'int64') return Array.from(t.data, Number);
  if (t.dtype === 'float16') return Array.from(t.data, halfToFloat64);
  return t.data;
}

function integer(name: string, v: number): number {
  if (!Number.isInteger(v))
    throw new ModelError('runtime_bad_feed', `input '${name}' needs integers, got ${v}`);
  return v;
}
