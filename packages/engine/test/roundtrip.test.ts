import { describe, expect, it } from 'vitest';
import { gaussianNoise, runSampler, type SamplerSpec, type SamplerState } from '../src/index.ts';
import { type AnalyticSetup, gaussianSetup, maxAbs, maxRel, mixtureSetup } from './helpers.ts';

const EXACT: SamplerSpec[] = [{ name: 'obelm' }, { name: 'bdia', gamma: 1 }, { name: 'edict', p: 0.93 }];
const lone = (spec: SamplerSpec, index: number, x: Float64Array): SamplerState =>
  spec.name === 'edict' ? { kind: 'coupled', index, x, y: x } : { kind: 'single', index, x };
const frontierX = (s: SamplerState) => (s.kind === 'pair' ? (s.index === 1 ? s.lower : s.upper) : s.x);

async function roundTrips(
  spec: SamplerSpec,
  setup: AnalyticSetup,
  x0: Float64Array,
  z: Float64Array,
  shape: number[],
) {
  const opts = { grid: setup.grid, eps: setup.eps, shape };
  const N = setup.grid.steps;
  // sample(invert(x0)), sampling from the stored pair / both sequences.
  const inverted = await runSampler(spec, 'invert', lone(spec, 0, x0), N, opts);
  const back = await runSampler(spec, 'sample', inverted, 0, opts);
  // invert(sample(z)), inverting from the final pair (x_1, x_0) / both sequences.
  const sampled = await runSampler(spec, 'sample', lone(spec, N, z), 0, opts);
  const noise = await runSampler(spec, 'invert', sampled, N, opts);
  return { x0Error: maxRel(frontierX(back), x0), zError: maxRel(frontierX(noise), z) };
}

describe.each(EXACT.map((s) => [s.name, s] as const))('%s round trips in float64', (_, spec) => {
  it.each([10, 20, 50, 100])('are exact to 1e-10 at N = %i (Gaussian and mixture data)', async (N) => {
    const gauss = gaussianSetup(16, N);
    const shape = [8, 16];
    const g = await roundTrips(
      spec,
      gauss,
      gaussianNoise(1, 128).map((v, j) => gauss.data.mu[j % 16]! + gauss.data.s[j % 16]! * v),
      gaussianNoise(2, 128),
      shape,
    );
    const mix = mixtureSetup(N);
    const m = await roundTrips(
      spec,
      mix,
      gaussianNoise(3, 32).map((v) => 2 * v),
      gaussianNoise(4, 32),
      [16, 2],
    );
    expect(g.x0Error).toBeLessThan(1e-10);
    expect(g.zError).toBeLessThan(1e-10);
    expect(m.x0Error).toBeLessThan(1e-10);
    expect(m.zError).toBeLessThan(1e-10);
  });
});

describe('DDIM round trip', () => {
  it('is visibly inexact', async () => {
    const setup = gaussianSetup(16, 20);
    const x0 = gaussianNoise(1, 128).map((v, j) => setup.data.mu[j % 16]! + setup.data.s[j % 16]! * v);
    const { x0Error } = await roundTrips({ name: 'ddim' }, setup, x0, gaussianNoise(2, 128), [8, 16]);
    expect(x0Error).toBeGreaterThan(1e-2);
  });

  it('O-BELM from x_0 alone (official inversion) is not exact for invert(sample(z))', async () => {
    const setup = gaussianSetup(16, 10);
    const opts = { grid: setup.grid, eps: setup.eps, shape: [8, 16] };
    const z = gaussianNoise(2, 128);
    const sampled = await runSampler(
      { name: 'obelm' },
      'sample',
      { kind: 'single', index: 10, x: z },
      0,
      opts,
    );
    const x0 = frontierX(sampled);
    const noise = await runSampler(
      { name: 'obelm' },
      'invert',
      { kind: 'single', index: 0, x: x0 },
      10,
      opts,
    );
    expect(maxAbs(frontierX(noise), z)).toBeGreaterThan(1e-2);
  });
});
