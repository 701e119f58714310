import { describe, expect, it } from 'vitest';
import {
  alphasCumprod,
  buildGrid,
  EngineError,
  inferenceTimesteps,
  roundHalfEven,
  SD_SCHEDULE,
} from '../src/index.ts';

describe('schedule', () => {
  it('reproduces the SD alphas_cumprod in float64 (docs/math.md §1.1)', () => {
    const abar = alphasCumprod(SD_SCHEDULE);
    expect(abar[0]).toBe(0.99915);
    expect(abar[1]).toBeCloseTo(0.9982960278384514, 15);
    expect(abar[999]).toBeCloseTo(0.004660098513077238, 15);
  });

  it('rounds linspace timesteps half to even (N = 19)', () => {
    expect(roundHalfEven(832.5)).toBe(832);
    expect(roundHalfEven(833.5)).toBe(834);
    const tau = inferenceTimesteps(SD_SCHEDULE, 19);
    expect(tau).toContain(832);
    expect(tau).toContain(610);
    expect(tau.slice(0, 3)).toEqual([999, 944, 888]);
  });

  it('supports leading with offset and trailing spacing', () => {
    const leading = inferenceTimesteps({ ...SD_SCHEDULE, spacing: 'leading', stepsOffset: 1 }, 50);
    expect(leading.slice(0, 2)).toEqual([981, 961]);
    expect(leading.at(-1)).toBe(1);
    expect(inferenceTimesteps({ ...SD_SCHEDULE, spacing: 'trailing' }, 10)).toEqual([
      999, 899, 799, 699, 599, 499, 399, 299, 199, 99,
    ]);
  });

  it('builds the grid in paper indexing, ending at abar = 1 or abar[0]', () => {
    const grid = buildGrid(SD_SCHEDULE, 10);
    expect(grid.abar[0]).toBe(1);
    expect(grid.timesteps[1]).toBe(0);
    expect(grid.timesteps[10]).toBe(999);
    const first = buildGrid({ ...SD_SCHEDULE, spacing: 'leading', stepsOffset: 1, finalAbar: 'first' }, 10);
    expect(first.abar[0]).toBe(0.99915);
  });

  it('supports linear betas', () => {
    const abar = alphasCumprod({ ...SD_SCHEDULE, betaSchedule: 'linear', betaStart: 1e-4, betaEnd: 0.02 });
    expect(abar[0]).toBeCloseTo(0.9999, 15);
    expect(abar[999]).toBeLessThan(1e-4);
  });

  it('rejects bad step counts and degenerate grids with typed errors', () => {
    for (const steps of [1, 0, 1001, 2.5]) {
      expect(() => buildGrid(SD_SCHEDULE, steps)).toThrow(expect.objectContaining({ code: 'invalid_steps' }));
    }
    // 'first' ending with tau_1 = 0 gives h_1 = 0.
    expect(() => buildGrid({ ...SD_SCHEDULE, finalAbar: 'first' }, 10)).toThrow(EngineError);
  });
});
