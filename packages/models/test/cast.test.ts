/**
 * The bit-level float16 conversions in runtime/cast.ts against slow references taken straight from the IEEE 754
 * definitions: widening is checked on all 65536 halves, narrowing with exact (BigInt) nearest-even rounding on
 * every half, every midpoint and its float64 neighbours, the subnormal and overflow edges, and random doubles.
 */
import { describe, expect, it } from 'vitest';
import {
  castForInput,
  float64ArrayToHalf,
  float64ToHalf,
  halfArrayToFloat64,
  halfToFloat64,
  widenOutput,
} from '../src/runtime/cast.ts';

const bitsView = new DataView(new ArrayBuffer(8));
const bitsOf = (x: number): bigint => {
  bitsView.setFloat64(0, x);
  return bitsView.getBigUint64(0);
};
const fromBits = (bits: bigint): number => {
  bitsView.setBigUint64(0, bits);
  return bitsView.getFloat64(0);
};
/** The neighbouring float64s of a positive finite x. */
const nextUp = (x: number) => fromBits(bitsOf(x) + 1n);
const nextDown = (x: number) => fromBits(bitsOf(x) - 1n);

/** binary16 bits -> value, from the definition: (-1)^s 2^(e-15) (1 + m/1024), subnormals 2^-14 (m/1024). */
function referenceHalfValue(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 31) return m === 0 ? sign * Number.POSITIVE_INFINITY : Number.NaN;
  if (e === 0) return sign * (m / 1024) * 2 ** -14;
  return sign * (1 + m / 1024) * 2 ** (e - 15);
}

/** |x| x 2^1074 as an exact integer: every finite float64 is a whole multiple of 2^-1074. */
function scaled(x: number): bigint {
  const bits = bitsOf(Math.abs(x));
  const exponent = bits >> 52n;
  const mantissa = bits & ((1n << 52n) - 1n);
  return exponent === 0n ? mantissa : (mantissa | (1n << 52n)) << (exponent - 1n);
}

/**
 * The positive half magnitudes in order, with 2^16 in place of 0x7c00: IEEE rounds as if the exponent were
 * unbounded, and a result of 2^16 or more is an overflow to infinity.
 */
const ladder = Array.from({ length: 0x7c01 }, (_, h) =>
  scaled(h === 0x7c00 ? 2 ** 16 : referenceHalfValue(h)),
);

/** Nearest half to finite or infinite x, ties to the even mantissa, by exact comparison of distances. */
function referenceToHalf(x: number): number {
  const sign = x < 0 || Object.is(x, -0) ? 0x8000 : 0;
  if (!Number.isFinite(x)) return sign | 0x7c00;
  const v = scaled(x);
  if (v >= ladder[0x7c00]!) return sign | 0x7c00;
  let below = 0; // ladder[below] <= v < ladder[above]
  let above = 0x7c00;
  while (above - below > 1) {
    const mid = (below + above) >> 1;
    if (ladder[mid]! <= v) below = mid;
    else above = mid;
  }
  const down = v - ladder[below]!;
  const up = ladder[above]! - v;
  return sign | (down < up ? below : up < down ? above : below % 2 === 0 ? below : above);
}

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const hex = (h: number) => `0x${h.toString(16).padStart(4, '0')}`;

/** Runs both the array and the scalar conversion on `values` and lists every disagreement with the reference. */
function narrowingMismatches(values: readonly number[]): string[] {
  const fast = float64ArrayToHalf(Float64Array.from(values));
  const mismatches: string[] = [];
  values.forEach((x, i) => {
    const expected = referenceToHalf(x);
    if (fast[i] !== expected || float64ToHalf(x) !== expected)
      mismatches.push(`${x}: got ${hex(fast[i]!)} / ${hex(float64ToHalf(x))}, want ${hex(expected)}`);
  });
  return mismatches.slice(0, 10);
}

const allHalves = Uint16Array.from({ length: 65536 }, (_, h) => h);
const isHalfNaN = (h: number) => (h & 0x7c00) === 0x7c00 && (h & 0x3ff) !== 0;

describe('half -> float64', () => {
  it('widens all 65536 halves exactly, signed zeros and NaN sign and payload included', () => {
    const wide = halfArrayToFloat64(allHalves);
    const words = new Uint32Array(wide.buffer);
    for (let h = 0; h < 65536; h++) {
      const want = referenceHalfValue(h);
      if (Number.isNaN(want)) {
        expect(Number.isNaN(wide[h])).toBe(true);
        expect(words[2 * h + 1]! >>> 31).toBe(h >> 15);
        expect((words[2 * h + 1]! >>> 10) & 0x3ff).toBe(h & 0x3ff);
        expect(float64ToHalf(wide[h]!)).toBe(h | 0x200); // back to the same NaN, made quiet
      } else if (!Object.is(wide[h], want) || !Object.is(halfToFloat64(h), want)) {
        expect.fail(`${hex(h)} widened to ${wide[h]} / ${halfToFloat64(h)}, want ${want}`);
      }
    }
  });
});

describe('float64 -> half', () => {
  it('maps every half value to itself', () => {
    const finite = Array.from(allHalves).filter((h) => !isHalfNaN(h));
    const back = float64ArrayToHalf(Float64Array.from(finite, referenceHalfValue));
    expect(Array.from(back)).toEqual(finite);
  });

  it('rounds every midpoint between adjacent halves to even, and its float64 neighbours to nearest', () => {
    const values: number[] = [];
    for (let h = 0; h < 0x7c00; h++) {
      const mid = (referenceHalfValue(h) + (h === 0x7bff ? 2 ** 16 : referenceHalfValue(h + 1))) / 2;
      for (const v of [nextDown(mid), mid, nextUp(mid)]) values.push(v, -v);
    }
    expect(narrowingMismatches(values)).toEqual([]);
  });

  it('handles the subnormal range, underflow to signed zero and overflow at 65520', () => {
    const edges = [
      0,
      -0,
      Number.MIN_VALUE,
      2.2250738585072014e-308, // smallest normal float64
      2 ** -26,
      2 ** -25, // half the smallest subnormal: a tie, to even = 0
      nextUp(2 ** -25),
      nextDown(2 ** -24),
      2 ** -24,
      1.5 * 2 ** -24,
      2 ** -14 - 2 ** -25, // tie between the largest subnormal and the smallest normal: to even (normal)
      nextDown(2 ** -14),
      2 ** -14,
      65504,
      nextDown(65520),
      65520,
      nextUp(65520),
      65536,
      1e300,
      Number.MAX_VALUE,
      Number.POSITIVE_INFINITY,
    ];
    const random = mulberry32(7);
    for (let i = 0; i < 2000; i++) edges.push(random() * 2 ** -14, random() * 2 ** -24);
    expect(narrowingMismatches([...edges, ...edges.map((v) => -v)])).toEqual([]);
    expect(float64ToHalf(2 ** -25)).toBe(0);
    expect(float64ToHalf(-(2 ** -25))).toBe(0x8000);
    expect(float64ToHalf(65520)).toBe(0x7c00);
    expect(float64ToHalf(nextDown(65520))).toBe(0x7bff);
  });

  it('keeps NaN a quiet NaN with its sign and top payload bits', () => {
    const nans = new Float64Array(4);
    const words = new Uint32Array(nans.buffer);
    words.set([0, 0x7ff80000, 0, 0xfff80000, 1, 0x7ff00000, 0, 0x7ffabc00]);
    const halves = float64ArrayToHalf(nans);
    expect(Array.from(halves, hex)).toEqual(['0x7e00', '0xfe00', '0x7e00', '0x7eaf']);
    expect(float64ToHalf(Number.NaN)).toBe(0x7e00);
  });

  it('agrees with the reference on 1e5 random float64s across magnitudes', () => {
    const random = mulberry32(2024);
    const values = Array.from({ length: 100_000 }, (_, i) => {
      const sign = random() < 0.5 ? -1 : 1;
      if (i % 10 === 0) return sign * random() * 2 ** Math.floor(random() * 2100 - 1075); // any float64
      return sign * (1 + random()) * 2 ** Math.floor(random() * 46 - 30); // 2^-30 .. 2^16
    });
    expect(narrowingMismatches(values)).toEqual([]);
  });
});

describe('castForInput / widenOutput', () => {
  it('round-trips float16 tensors through float32 and float64 without loss', () => {
    const halves = allHalves.filter((h) => !isHalfNaN(h));
    const tensor = { dtype: 'float16', dims: [halves.length], data: halves } as const;
    const wide = widenOutput(tensor);
    expect(wide.dtype).toBe('float64');
    const same = (t: { data: ArrayBufferView }) =>
      Buffer.from(t.data.buffer).equals(Buffer.from(halves.buffer));
    expect(same(castForInput('x', wide, 'float16'))).toBe(true);
    expect(same(castForInput('x', castForInput('x', tensor, 'float32'), 'float16'))).toBe(true);
  });
});
