import { describe, expect, it } from 'vitest';
import { gaussianFlow, gaussianNoise, runSampler, type SamplerSpec } from '../src/index.ts';
import { gaussianSetup, rms } from './helpers.ts';

/** Least-squares slope of log(error) against log(N): the global order of accuracy. */
function fittedOrder(ns: number[], errors: number[]): number {
  const xs = ns.map(Math.log);
  const ys = errors.map((e) => -Math.log(e));
  const mx = xs.reduce((a, b) => a + b) / xs.length;
  const my = ys.reduce((a, b) => a + b) / ys.length;
  let num = 0;
  let den = 0;
  for (let k = 0; k < xs.length; k++) {
    num += (xs[k]! - mx) * (ys[k]! - my);
    den += (xs[k]! - mx) ** 2;
  }
  return num / den;
}

async function globalErrors(spec: SamplerSpec, ns: number[]): Promise<number[]> {
  const errors: number[] = [];
  for (const N of ns) {
    const setup = gaussianSetup(16, N);
    const z = gaussianNoise(5, 256);
    const out = await runSampler(spec, 'sample', { kind: 'single', index: N, x: z }, 0, {
      grid: setup.grid,
      eps: setup.eps,
      shape: [16, 16],
    });
    const x0 = out.kind === 'pair' ? out.lower : out.x;
    errors.push(rms(x0, gaussianFlow(setup.data, z, setup.grid.abar[N]!, setup.grid.abar[0]!)));
  }
  return errors;
}

describe('convergence against the exact Gaussian ODE solution (docs/math.md §11.5)', () => {
  const ns = [10, 20, 50, 100, 200];

  it('O-BELM is second order', async () => {
    expect(fittedOrder(ns, await globalErrors({ name: 'obelm' }, ns))).toBeGreaterThanOrEqual(1.8);
  });

  it('DDIM is first order', async () => {
    const order = fittedOrder(ns, await globalErrors({ name: 'ddim' }, ns));
    expect(order).toBeGreaterThan(0.85);
    expect(order).toBeLessThan(1.15);
  });
});
