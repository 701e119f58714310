import { describe, expect, it } from 'vitest';
import { EngineError, freezeSteps, runSampler, type SamplerState } from '../src/index.ts';
import { gaussianSetup } from './helpers.ts';

const setup = gaussianSetup(4, 10);
const opts = { grid: setup.grid, eps: setup.eps, shape: [1, 4] };
const single = (x: number[], index = 10): SamplerState => ({
  kind: 'single',
  index,
  x: Float64Array.from(x),
});
const code = (c: string) => expect.objectContaining({ name: 'EngineError', code: c });

describe('bad input gives typed errors', () => {
  it('mismatched shapes', async () => {
    await expect(runSampler({ name: 'obelm' }, 'sample', single([1, 2, 3]), 0, opts)).rejects.toThrow(
      code('shape_mismatch'),
    );
    const pair: SamplerState = {
      kind: 'pair',
      index: 10,
      upper: new Float64Array(4),
      lower: new Float64Array(5),
    };
    await expect(runSampler({ name: 'obelm' }, 'sample', pair, 0, opts)).rejects.toThrow(
      code('shape_mismatch'),
    );
  });

  it('a predictor returning the wrong length', async () => {
    const bad = { ...opts, eps: async () => new Float64Array(3) };
    await expect(runSampler({ name: 'ddim' }, 'sample', single([1, 2, 3, 4]), 0, bad)).rejects.toThrow(
      code('shape_mismatch'),
    );
  });

  it('NaN in the state, or produced by the model', async () => {
    await expect(
      runSampler({ name: 'obelm' }, 'sample', single([1, Number.NaN, 3, 4]), 0, opts),
    ).rejects.toThrow(code('non_finite_state'));
    const nan = { ...opts, eps: async () => new Float64Array(4).fill(Number.NaN) };
    await expect(runSampler({ name: 'obelm' }, 'sample', single([1, 2, 3, 4]), 0, nan)).rejects.toThrow(
      code('non_finite_state'),
    );
  });

  it('targets out of range and misplaced states (freeze out of range)', async () => {
    await expect(runSampler({ name: 'obelm' }, 'sample', single([1, 2, 3, 4]), 11, opts)).rejects.toThrow(
      code('invalid_target'),
    );
    await expect(runSampler({ name: 'obelm' }, 'invert', single([1, 2, 3, 4], 0), 11, opts)).rejects.toThrow(
      code('invalid_target'),
    );
    await expect(runSampler({ name: 'obelm' }, 'invert', single([1, 2, 3, 4], 5), 3, opts)).rejects.toThrow(
      code('invalid_target'),
    );
    await expect(runSampler({ name: 'obelm' }, 'sample', single([1, 2, 3, 4], 12), 0, opts)).rejects.toThrow(
      code('invalid_state'),
    );
    expect(() => freezeSteps(20, 0)).toThrow(code('invalid_freeze'));
    expect(() => freezeSteps(20, 1.5)).toThrow(code('invalid_freeze'));
    expect(freezeSteps(20, 0.5)).toBe(10);
    expect(freezeSteps(20, 1)).toBe(0);
    expect(freezeSteps(20, 0.01)).toBe(19);
  });

  it('bad sampler parameters', async () => {
    await expect(
      runSampler({ name: 'bdia', gamma: 0 }, 'sample', single([1, 2, 3, 4]), 0, opts),
    ).rejects.toThrow(code('invalid_sampler'));
    await expect(
      runSampler({ name: 'edict', p: 1.2 }, 'sample', single([1, 2, 3, 4]), 0, opts),
    ).rejects.toThrow(code('invalid_sampler'));
  });

  it('errors carry a clear message', async () => {
    const error = await runSampler({ name: 'obelm' }, 'sample', single([1, 2, 3]), 0, opts).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(EngineError);
    expect((error as Error).message).toMatch(/3 elements but shape \[1, 4\] needs 4/);
  });
});
