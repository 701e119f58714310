/**
 * Demo bundle benchmark: `npm run bench -w packages/models`.
 * Bundle generation and session load time, per-step time split into model time vs the rest (engine
 * arithmetic, casting, CFG), one batched CFG call vs two single calls, and peak memory.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { type DiffusionModel, sample } from '@obelm/engine';
import { ensureDemoBundle, type LoadedModel, loadBundle } from '../src/index.ts';

const rows: [string, string][] = [];
const record = (name: string, value: string) => rows.push([name, value]);
let peakRss = 0;
let peakHeap = 0;
const sampleMemory = () => {
  const m = process.memoryUsage();
  peakRss = Math.max(peakRss, m.rss);
  peakHeap = Math.max(peakHeap, m.heapUsed);
};

async function time<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const start = performance.now();
  const result = await fn();
  return [result, performance.now() - start];
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

/** Wraps the model so every eps call's wall time is added up. */
function timed(model: LoadedModel): { model: DiffusionModel; modelMs: () => number; calls: () => number } {
  let total = 0;
  let count = 0;
  const eps: DiffusionModel['eps'] = async (x, t, emb, signal) => {
    const start = performance.now();
    const out = await model.eps(x, t, emb, signal);
    total += performance.now() - start;
    count++;
    sampleMemory();
    return out;
  };
  return { model: { ...model, eps }, modelMs: () => total, calls: () => count };
}

const cacheDir = await mkdtemp(join(tmpdir(), 'obelm-bench-'));
try {
  const [, generateMs] = await time(() => ensureDemoBundle(cacheDir));
  record('bundle generation (render + graph + write)', `${generateMs.toFixed(0)} ms`);
  const [model, loadMs] = await time(() => loadBundle('demo', { provider: 'cpu', cacheDir }));
  record('session load (cached bundle)', `${loadMs.toFixed(1)} ms`);
  sampleMemory();

  await sample(model, { prompt: 'red circle', seed: 99, steps: 20 }); // warm-up
  for (const guidance of [1, 3]) {
    const steps = 20;
    const runs = 10;
    const probe = timed(model);
    let totalMs = 0;
    for (let seed = 0; seed < runs; seed++) {
      const [, ms] = await time(() => sample(probe.model, { prompt: 'red circle', seed, steps, guidance }));
      totalMs += ms;
    }
    const perStep = totalMs / (runs * steps);
    const modelPerStep = probe.modelMs() / (runs * steps);
    record(
      `sample N=${steps}, g=${guidance}: per step (model + rest)`,
      `${perStep.toFixed(3)} ms (${modelPerStep.toFixed(3)} + ${(perStep - modelPerStep).toFixed(3)})`,
    );
  }

  const uncond = await model.embed('');
  const cond = await model.embed('blue star');
  const x = Float64Array.from({ length: 3 * 32 * 32 }, (_, i) => Math.sin(i));
  const pair = new Float64Array(2 * x.length);
  pair.set(x);
  pair.set(x, x.length);
  const pairEmb = { data: new Float32Array([...uncond.data, ...cond.data]), shape: [2, 1, 216] };
  const batched: number[] = [];
  const separate: number[] = [];
  for (let i = 0; i < 300; i++) {
    batched.push((await time(() => model.eps({ data: pair, shape: [2, 3, 32, 32] }, 500, pairEmb)))[1]);
    const [, a] = await time(() => model.eps({ data: x, shape: [1, 3, 32, 32] }, 500, uncond));
    const [, b] = await time(() => model.eps({ data: x, shape: [1, 3, 32, 32] }, 500, cond));
    separate.push(a + b);
  }
  record('CFG eps: one batched call (B=2), median', `${median(batched).toFixed(3)} ms`);
  record('CFG eps: two calls (B=1 each), median', `${median(separate).toFixed(3)} ms`);
  sampleMemory();
  record(
    'peak RSS / heap used',
    `${(peakRss / 2 ** 20).toFixed(0)} MiB / ${(peakHeap / 2 ** 20).toFixed(0)} MiB`,
  );
  await model.close();
} finally {
  await rm(cacheDir, { recursive: true, force: true });
}

const width = Math.max(...rows.map(([name]) => name.length));
console.log(`\ndemo bundle (32x32, K=216, cpu provider, 1 thread)\n${'-'.repeat(width + 24)}`);
for (const [name, value] of rows) console.log(`${name.padEnd(width)}  ${value}`);
