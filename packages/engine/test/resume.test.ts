import { describe, expect, it } from 'vitest';
import {
  gaussianNoise,
  runSampler,
  type SamplerSpec,
  type SamplerState,
  type StepProgress,
} from '../src/index.ts';
import { mixtureSetup } from './helpers.ts';

const SPECS: SamplerSpec[] = [
  { name: 'obelm' },
  { name: 'ddim' },
  { name: 'bdia', gamma: 0.96 },
  { name: 'edict', p: 0.93 },
];
const setup = mixtureSetup(20);
const opts = { grid: setup.grid, eps: setup.eps, shape: [8, 2] };
const arrays = (s: SamplerState) =>
  s.kind === 'pair' ? [s.upper, s.lower] : s.kind === 'coupled' ? [s.x, s.y] : [s.x];

describe.each(SPECS.map((s) => [s.name, s] as const))('%s: split, resume, progress, abort', (_, spec) => {
  const z = gaussianNoise(9, 16);
  const start: SamplerState = { kind: 'single', index: 20, x: z };

  it('a run split at any step and resumed is bit-identical to an unsplit run', async () => {
    const whole = await runSampler(spec, 'sample', start, 0, opts);
    for (const cut of [1, 7, 19]) {
      let saved: StepProgress | undefined;
      await runSampler(spec, 'sample', start, 0, {
        ...opts,
        onStep: (p) => {
          if (p.step === cut) saved = p;
        },
      });
      const resumed = await runSampler(spec, 'sample', saved!.state, 0, opts);
      expect(resumed).toEqual(whole);
      expect(arrays(resumed)).toEqual(arrays(whole));
    }
    // Split the inversion too: invert to index 8, then on to 20.
    const inverted = await runSampler(spec, 'invert', whole, 20, opts);
    const half = await runSampler(spec, 'invert', whole, 8, opts);
    expect(await runSampler(spec, 'invert', half, 20, opts)).toEqual(inverted);
  });

  it('reports every step with its count', async () => {
    const seen: [number, number][] = [];
    await runSampler(spec, 'sample', start, 0, { ...opts, onStep: (p) => void seen.push([p.step, p.of]) });
    expect(seen).toEqual(Array.from({ length: 20 }, (_, k) => [k + 1, 20]));
  });

  it('stops with a typed error when aborted', async () => {
    const controller = new AbortController();
    let steps = 0;
    const run = runSampler(spec, 'sample', start, 0, {
      ...opts,
      signal: controller.signal,
      onStep: (p) => {
        steps = p.step;
        if (p.step === 3) controller.abort();
      },
    });
    await expect(run).rejects.toThrow(expect.objectContaining({ code: 'aborted' }));
    expect(steps).toBe(3);
  });
});
