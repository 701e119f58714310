import { describe, expect, it } from 'vitest';
import { csv, decimal, fromMicros, msAsSeconds, table } from '../../packages/cli/src/format.ts';

describe('amounts', () => {
  it('are integer micro-units written as exact decimals, never through a float', () => {
    expect(fromMicros(0)).toBe('0.000000');
    expect(fromMicros(1)).toBe('0.000001');
    expect(fromMicros(1_234_567)).toBe('1.234567');
    expect(fromMicros(-500)).toBe('-0.000500');
    // 0.1 + 0.2 in micro-units: what a float would round.
    expect(fromMicros(100_000 + 200_000)).toBe('0.300000');
    expect(fromMicros(Number.MAX_SAFE_INTEGER)).toBe('9007199254.740991');
    expect(msAsSeconds(1234)).toBe('1.234');
    expect(msAsSeconds(5)).toBe('0.005');
    expect(decimal(42, 0)).toBe('42');
    expect(() => fromMicros(1.5)).toThrow(TypeError);
  });
});

describe('tables and CSV', () => {
  it('pads columns to their widest cell, numbers on the right', () => {
    expect(
      table(
        [
          ['a', '1'],
          ['long', '100'],
        ],
        [1],
      ),
    ).toBe('a       1\nlong  100');
  });

  it('quotes a CSV field only when it must, doubling its quotes', () => {
    expect(csv([['a', 'b,c', 'say "hi"', 'x\ny']])).toBe('a,"b,c","say ""hi""","x\ny"');
  });
});
