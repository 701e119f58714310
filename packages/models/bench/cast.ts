/**
 * The float16 casts on an SD-1.5 CFG latent (2x4x64x64 = 32768 values), which the fp16 path runs on every step:
 * the bit-level loops in src/runtime/cast.ts against the per-element versions they replaced (kept below as the
 * baseline) and against float32 narrowing for scale.
 */
import { castForInput, type HostTensor, widenOutput } from '../src/runtime/cast.ts';
import { medianMs, ms, type Table } from './report.ts';

export async function castTable(): Promise<Table> {
  const shape = [2, 4, 64, 64];
  const count = shape.reduce((a, b) => a * b, 1);
  const latent = Float64Array.from({ length: count }, (_, i) => Math.sin(i) * 4);
  const input: HostTensor = { dtype: 'float64', dims: shape, data: latent };
  const half = castForInput('sample', input, 'float16');
  const halves = half.data as Uint16Array;

  const runs = 51;
  const narrowBefore = await medianMs(runs, () => Uint16Array.from(latent, perElementFloat64ToHalf));
  const narrowAfter = await medianMs(runs, () => castForInput('sample', input, 'float16'));
  const widenBefore = await medianMs(runs, () => Float64Array.from(halves, perElementHalfToFloat64));
  const widenAfter = await medianMs(runs, () => widenOutput(half));
  const single = await medianMs(runs, () => castForInput('sample', input, 'float32'));
  const row = (name: string, before: number, after: number) =>
    [
      name,
      ms(before),
      ms(after),
      `${(before / after).toFixed(0)}x`,
      `${((after * 1e6) / count).toFixed(1)} ns`,
    ] as const;
  return {
    title: `Host casts on a [${shape}] latent (${count} values), median of ${runs}`,
    columns: ['before', 'after', 'speedup', 'after / value'],
    rows: [
      row('float64 -> float16 (model input)', narrowBefore, narrowAfter),
      row('float16 -> float64 (model output)', widenBefore, widenAfter),
      ['float64 -> float32 (for scale)', '', ms(single), '', `${((single * 1e6) / count).toFixed(1)} ns`],
    ],
    notes: ['before: per element, through Math.log2 and a float scaling (the code at commit 60cb1db).'],
  };
}

/** The replaced narrowing: exponent from Math.log2, mantissa by scaling and rounding half to even. */
function perElementFloat64ToHalf(x: number): number {
  if (Number.isNaN(x)) return 0x7e00;
  const sign = x < 0 || Object.is(x, -0) ? 0x8000 : 0;
  const a = Math.abs(x);
  if (a < 2 ** -14) return sign | roundHalfEven(a * 2 ** 24);
  let e = Math.floor(Math.log2(a));
  if (2 ** e > a) e -= 1;
  if (2 ** (e + 1) <= a) e += 1;
  let m = roundHalfEven(a * 2 ** (10 - e));
  if (m === 2048) {
    m = 1024;
    e += 1;
  }
  if (e > 15) return sign | 0x7c00;
  return sign | ((e + 15) << 10) | (m - 1024);
}

function roundHalfEven(y: number): number {
  const r = Math.round(y);
  return r - y === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** The replaced widening: the value from its fields with float arithmetic. */
function perElementHalfToFloat64(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return sign * m * 2 ** -24;
  if (e === 31) return m === 0 ? sign * Number.POSITIVE_INFINITY : Number.NaN;
  return sign * (1024 + m) * 2 ** (e - 25);
}
