import { describe, expect, it } from 'vitest';
import { type ConditionalEpsPredictor, type Embedding, guidedEps } from '../src/index.ts';

const row = (v: number): Embedding => ({ data: Float32Array.of(v, v), shape: [1, 2] });

describe('classifier-free guidance (docs/math.md §7)', () => {
  const calls: { batch: number; embRows: number[] }[] = [];
  // eps = x * (first value of the row's embedding): conditional rows and unconditional rows differ.
  const model: ConditionalEpsPredictor = async (x, _t, emb) => {
    calls.push({
      batch: x.shape[0]!,
      embRows: Array.from({ length: emb.shape[0]! }, (_, r) => emb.data[2 * r]!),
    });
    const rowSize = x.data.length / x.shape[0]!;
    return x.data.map((v, j) => v * emb.data[2 * Math.floor(j / rowSize)]!);
  };
  const x = { data: Float64Array.of(1, 2, 3, 4), shape: [2, 2] };

  it('runs [uncond; cond] in ONE batched call and combines u + g (c - u)', async () => {
    calls.length = 0;
    const eps = await guidedEps(model, row(3), row(1), 2.5)(x, 10);
    expect(calls).toEqual([{ batch: 4, embRows: [1, 1, 3, 3] }]);
    // u = x, c = 3x, eps = x + 2.5 * 2x = 6x
    expect([...eps]).toEqual([6, 12, 18, 24]);
  });

  it('uses the conditional prediction alone for g <= 1', async () => {
    calls.length = 0;
    const eps = await guidedEps(model, row(3), row(1), 1)(x, 10);
    expect(calls).toEqual([{ batch: 2, embRows: [3, 3] }]);
    expect([...eps]).toEqual([3, 6, 9, 12]);
  });

  it('rejects a bad guidance scale', () => {
    expect(() => guidedEps(model, row(3), row(1), Number.NaN)).toThrow(
      expect.objectContaining({ code: 'invalid_guidance' }),
    );
  });
});
