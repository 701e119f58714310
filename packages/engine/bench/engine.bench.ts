/**
 * `npm run bench -w packages/engine`: accuracy and cost of the engine's samplers.
 * 1. Global error (RMS) vs the exact PF-ODE solution, Gaussian (closed form) and mixture (RK4) data.
 * 2. O-BELM at N vs DDIM at 2N and 5N (same error budget?).
 * 3. Round-trip max error with float64 vs float32-rounded states.
 * 4. The engine's own time per step on a 2x4x64x64 state next to a no-op model.
 */
import {
  alphasCumprod,
  atTimesteps,
  buildGrid,
  type ContinuousEps,
  gaussianEps,
  gaussianFlow,
  gaussianNoise,
  mixtureEps,
  runSampler,
  type SamplerSpec,
  type SamplerState,
  SD_SCHEDULE,
  solveFlowOde,
} from '../src/index.ts';
import { MIXTURE as mixture } from '../test/helpers.ts';

const table = alphasCumprod(SD_SCHEDULE);
const SPECS: [string, SamplerSpec][] = [
  ['ddim', { name: 'ddim' }],
  ['obelm', { name: 'obelm' }],
  ['bdia g=1', { name: 'bdia', gamma: 1 }],
  ['edict p=.93', { name: 'edict', p: 0.93 }],
];
const NS = [10, 20, 50, 100];
const fmt = (v: number) => v.toExponential(2).padStart(9);
const cleanOf = (s: SamplerState) => (s.kind === 'pair' ? s.lower : s.x);
const rms = (a: Float64Array, b: Float64Array) =>
  Math.sqrt(a.reduce((acc, v, j) => acc + (v - b[j]!) ** 2, 0) / a.length);

const d = 16;
const gaussian = {
  mu: Array.from(gaussianNoise(11, d)),
  s: Array.from(gaussianNoise(12, d), (v) => 0.2 + 1.3 * (0.5 + 0.5 * Math.tanh(v))),
};
const models: {
  name: string;
  eps: ContinuousEps;
  shape: number[];
  exact: (x: Float64Array, from: number, to: number) => Float64Array;
}[] = [
  {
    name: 'gaussian',
    eps: gaussianEps(gaussian),
    shape: [64, d],
    exact: (x, f, t) => gaussianFlow(gaussian, x, f, t),
  },
  {
    name: 'mixture',
    eps: mixtureEps(mixture),
    shape: [256, 2],
    exact: (x, f, t) => solveFlowOde(mixtureEps(mixture), x, f, t, 4000),
  },
];

async function sampleError(
  spec: SamplerSpec,
  model: (typeof models)[number],
  N: number,
  z: Float64Array,
  exact: Float64Array,
) {
  const grid = buildGrid(SD_SCHEDULE, N);
  const start: SamplerState = { kind: 'single', index: N, x: z };
  const out = await runSampler(spec, 'sample', start, 0, {
    grid,
    eps: atTimesteps(model.eps, table),
    shape: model.shape,
  });
  return rms(cleanOf(out), exact);
}

console.log('## Global error vs the exact ODE solution (RMS of x_0, float64)\n');
console.log(`| model    | sampler     |${NS.map((n) => ` N=${n}`.padStart(10)).join(' |')} |`);
for (const model of models) {
  const n = model.shape[0]! * model.shape[1]!;
  const z = gaussianNoise(21, n);
  const grid = buildGrid(SD_SCHEDULE, 10);
  const exact = model.exact(z, grid.abar[10]!, grid.abar[0]!);
  for (const [label, spec] of SPECS) {
    const errs = [];
    for (const N of NS) errs.push(await sampleError(spec, model, N, z, exact));
    console.log(
      `| ${model.name.padEnd(8)} | ${label.padEnd(11)} |${errs.map((e) => ` ${fmt(e)}`).join(' |')} |`,
    );
  }
  const ob = [];
  for (const N of NS) {
    const o = await sampleError({ name: 'obelm' }, model, N, z, exact);
    const d2 = await sampleError({ name: 'ddim' }, model, 2 * N, z, exact);
    const d5 = await sampleError({ name: 'ddim' }, model, Math.min(1000, 5 * N), z, exact);
    ob.push(`N=${N}: obelm ${fmt(o)} | ddim@2N ${fmt(d2)} | ddim@5N ${fmt(d5)}`);
  }
  console.log(`\nO-BELM at N vs DDIM at 2N / 5N (${model.name}):\n  ${ob.join('\n  ')}\n`);
}

console.log(
  '## Round-trip max |error| (sample(invert(x0)) from the pair; invert(sample(z)) from the kept pair)\n',
);
/** Rounds every state element to float32 after each step: what a pure-float32 engine would do. */
const f32 = (s: SamplerState): SamplerState =>
  s.kind === 'pair'
    ? {
        ...s,
        upper: Float64Array.from(Float32Array.from(s.upper)),
        lower: Float64Array.from(Float32Array.from(s.lower)),
      }
    : s.kind === 'coupled'
      ? { ...s, x: Float64Array.from(Float32Array.from(s.x)), y: Float64Array.from(Float32Array.from(s.y)) }
      : { ...s, x: Float64Array.from(Float32Array.from(s.x)) };
async function runStepwise(
  spec: SamplerSpec,
  dir: 'sample' | 'invert',
  s: SamplerState,
  to: number,
  opts: Parameters<typeof runSampler>[4],
  round: boolean,
) {
  if (!round) return runSampler(spec, dir, s, to, opts);
  s = f32(s);
  while ((dir === 'sample' ? (s.kind === 'pair' ? s.index - 1 : s.index) : s.index) !== to) {
    s = f32(
      await runSampler(
        spec,
        dir,
        s,
        dir === 'sample' ? (s.kind === 'pair' ? s.index - 2 : s.index - 1) : s.index + 1,
        opts,
      ),
    );
  }
  return s;
}
console.log(
  `| model    | sampler     | dtype | quantity   |${NS.map((n) => ` N=${n}`.padStart(10)).join(' |')} |`,
);
for (const model of models) {
  const n = model.shape[0]! * model.shape[1]!;
  const x0 = model.exact(gaussianNoise(31, n), buildGrid(SD_SCHEDULE, 10).abar[10]!, 1);
  const z = gaussianNoise(32, n);
  for (const [label, spec] of SPECS.slice(1)) {
    for (const round of [false, true]) {
      const a: number[] = [];
      const b: number[] = [];
      for (const N of NS) {
        const grid = buildGrid(SD_SCHEDULE, N);
        const roundEps =
          (e: ContinuousEps): ContinuousEps =>
          (x, abar) =>
            e(round ? Float64Array.from(Float32Array.from(x)) : x, abar);
        const opts = { grid, eps: atTimesteps(roundEps(model.eps), table), shape: model.shape };
        const lone = (index: number, x: Float64Array): SamplerState =>
          spec.name === 'edict' ? { kind: 'coupled', index, x, y: x } : { kind: 'single', index, x };
        const inv = await runStepwise(spec, 'invert', lone(0, x0), N, opts, round);
        const back = await runStepwise(spec, 'sample', inv, 0, opts, round);
        const x0r = back.kind === 'pair' ? back.lower : back.x;
        a.push(Math.max(...x0r.map((v, j) => Math.abs(v - x0[j]!))));
        const smp = await runStepwise(spec, 'sample', lone(N, z), 0, opts, round);
        const zr = await runStepwise(spec, 'invert', smp, N, opts, round);
        const zz = zr.kind === 'pair' ? zr.upper : zr.x;
        b.push(Math.max(...zz.map((v, j) => Math.abs(v - z[j]!))));
      }
      const dt = round ? 'f32' : 'f64';
      console.log(
        `| ${model.name.padEnd(8)} | ${label.padEnd(11)} | ${dt}   | x0 recon   |${a.map((e) => ` ${fmt(e)}`).join(' |')} |`,
      );
      console.log(
        `| ${model.name.padEnd(8)} | ${label.padEnd(11)} | ${dt}   | z recon    |${b.map((e) => ` ${fmt(e)}`).join(' |')} |`,
      );
    }
  }
}

console.log('\n## Engine time per step, state 2x4x64x64 (32768 float64), no-op model\n');
const shape = [2, 4, 64, 64];
const size = shape.reduce((a, b) => a * b);
const zeros = new Float64Array(size);
const noop = async () => zeros;
const steps = 200;
const grid = buildGrid(SD_SCHEDULE, steps);
for (const [label, spec] of SPECS) {
  const start: SamplerState = { kind: 'single', index: steps, x: gaussianNoise(1, size) };
  await runSampler(spec, 'sample', start, 0, { grid, eps: noop, shape }); // warm-up (JIT)
  const t0 = performance.now();
  const reps = 5;
  for (let r = 0; r < reps; r++) await runSampler(spec, 'sample', start, 0, { grid, eps: noop, shape });
  const perStep = (performance.now() - t0) / (reps * steps);
  console.log(
    `  ${label.padEnd(12)} ${(perStep * 1000).toFixed(0).padStart(5)} us/step (sample, incl. finiteness checks)`,
  );
}
