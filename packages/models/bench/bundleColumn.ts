/**
 * One column of the bundle table, measured in a process of its own so its peak memory is its own
 * (`bundles.ts` forks this file once per bundle; the bench test calls `measureBundle` directly).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { type DiffusionModel, type Embedding, sample } from '@obelm/engine';
import { ensureDemoBundle, type LoadedModel, loadBundle } from '../src/index.ts';
import { writeTinySdBundle } from '../src/testing.ts';
import { HeapPeak, median, mib, ms, peakRssBytes, timeMs } from './report.ts';

export const bundleKinds = ['demo', 'tiny-sd-fp32', 'tiny-sd-fp16'] as const;
export type BundleKind = (typeof bundleKinds)[number];

export interface BenchCounts {
  /** Seeds sampled per guidance setting. */
  readonly runs: number;
  readonly steps: number;
  /** Repetitions of the batched-vs-separate CFG comparison. */
  readonly cfgCalls: number;
}

export const fullCounts: BenchCounts = { runs: 10, steps: 20, cfgCalls: 300 };

/** Row name -> cell, in table order. */
export type Column = ReadonlyArray<readonly [string, string]>;

const prompts: Record<BundleKind, string> = {
  demo: 'red circle',
  'tiny-sd-fp32': 'a red cat',
  'tiny-sd-fp16': 'a red cat',
};

export async function measureBundle(kind: BundleKind, counts: BenchCounts = fullCounts): Promise<Column> {
  const heap = new HeapPeak();
  const root = await mkdtemp(join(tmpdir(), 'obelm-bench-'));
  const cells: [string, string][] = [];
  try {
    const [dir, writeMs] = await timeMs(() => writeBundle(kind, root));
    const [model, loadMs] = await timeMs(() =>
      loadBundle(dir, { provider: 'cpu', threads: 1, cacheDir: root }),
    );
    heap.sample();
    cells.push(['latent shape', `[${model.latentShape}]`]);
    cells.push(['bundle write', ms(writeMs, 0)]);
    cells.push(['session load', ms(loadMs, 1)]);

    const prompt = prompts[kind];
    await sample(model, { prompt, seed: 99, steps: counts.steps }); // warm-up
    for (const guidance of [1, 3]) {
      const split = await stepTimes(model, heap, { prompt, guidance, ...counts });
      const label = guidance === 1 ? 'g=1' : `g=${guidance}, CFG`;
      cells.push([`step, ${label}: total`, ms(split.stepMs)]);
      cells.push([`  model (eps)`, ms(split.modelMs)]);
      cells.push([`  engine (rest)`, ms(split.stepMs - split.modelMs)]);
    }

    const cfg = await cfgCalls(model, prompt, counts.cfgCalls);
    heap.sample();
    cells.push(['CFG eps: 1 call, B=2', ms(cfg.batchedMs)]);
    cells.push(['CFG eps: 2 calls, B=1', ms(cfg.separateMs)]);
    cells.push(['  2 calls / 1 call', `${(cfg.separateMs / cfg.batchedMs).toFixed(2)}x`]);
    cells.push(['peak RSS (maxRSS)', mib(peakRssBytes())]);
    cells.push(['peak heap used', mib(heap.bytes)]);
    await model.close();
  } finally {
    await rm(root, { recursive: true, force: true });
  }
  return cells;
}

/** Writes the bundle under `root` and returns the path (or id) loadBundle takes. */
async function writeBundle(kind: BundleKind, root: string): Promise<string> {
  if (kind === 'demo') {
    await ensureDemoBundle(root); // render the dataset, build the graph, write (cacheDir = root)
    return 'demo';
  }
  const dir = join(root, kind);
  await writeTinySdBundle(dir, { fp16: kind === 'tiny-sd-fp16' });
  return dir;
}

/**
 * Mean time per sampling step, and the part of it spent in the model's eps (onnxruntime plus the host casts).
 * embed and decode run once per image, not per step, so their time is left out of the step time.
 */
async function stepTimes(
  model: LoadedModel,
  heap: HeapPeak,
  { prompt, guidance, runs, steps }: BenchCounts & { prompt: string; guidance: number },
): Promise<{ stepMs: number; modelMs: number }> {
  let epsMs = 0;
  let outsideMs = 0;
  const timed =
    <A extends unknown[], R>(fn: (...args: A) => Promise<R>, add: (ms: number) => void) =>
    async (...args: A): Promise<R> => {
      const [result, elapsed] = await timeMs(() => fn(...args));
      add(elapsed);
      heap.sample();
      return result;
    };
  // A plain object: SdModel's methods live on its prototype, so spreading the instance would lose them.
  const probe: DiffusionModel = {
    id: model.id,
    schedule: model.schedule,
    defaults: model.defaults,
    latentShape: model.latentShape,
    imageSize: model.imageSize,
    encode: (pixels, signal) => model.encode(pixels, signal),
    decode: timed(
      (latent, signal) => model.decode(latent, signal),
      (t) => (outsideMs += t),
    ),
    embed: timed(
      (text, signal) => model.embed(text, signal),
      (t) => (outsideMs += t),
    ),
    eps: timed(
      (x, t, emb, signal) => model.eps(x, t, emb, signal),
      (t) => (epsMs += t),
    ),
  };
  let totalMs = 0;
  for (let seed = 0; seed < runs; seed++) {
    totalMs += (await timeMs(() => sample(probe, { prompt, seed, steps, guidance })))[1];
  }
  return { stepMs: (totalMs - outsideMs) / (runs * steps), modelMs: epsMs / (runs * steps) };
}

/** Median of one eps call on the CFG pair (B=2) against two B=1 calls on the same rows, interleaved. */
async function cfgCalls(
  model: LoadedModel,
  prompt: string,
  calls: number,
): Promise<{ batchedMs: number; separateMs: number }> {
  const [uncond, cond] = [await model.embed(''), await model.embed(prompt)];
  const rowShape = [1, ...model.latentShape.slice(1)];
  const x = Float64Array.from({ length: rowShape.reduce((a, b) => a * b, 1) }, (_, i) => Math.sin(i));
  const pair = new Float64Array(2 * x.length);
  pair.set(x);
  pair.set(x, x.length);
  const pairData = new Float32Array(2 * uncond.data.length);
  pairData.set(uncond.data);
  pairData.set(cond.data, uncond.data.length);
  const pairEmb: Embedding = { data: pairData, shape: [2, ...uncond.shape.slice(1)] };
  const batched = () => model.eps({ data: pair, shape: [2, ...rowShape.slice(1)] }, 500, pairEmb);
  const separate = async () => {
    await model.eps({ data: x, shape: rowShape }, 500, uncond);
    await model.eps({ data: x, shape: rowShape }, 500, cond);
  };
  for (let i = 0; i < 10; i++) await separate(); // warm-up (separate runs both batch sizes' first calls)
  await batched();
  const batchedMs: number[] = [];
  const separateMs: number[] = [];
  for (let i = 0; i < calls; i++) {
    batchedMs.push((await timeMs(batched))[1]);
    separateMs.push((await timeMs(separate))[1]);
  }
  return { batchedMs: median(batchedMs), separateMs: median(separateMs) };
}

// Forked by bundles.ts: measure the bundle named on the command line and send the column back.
if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href && process.send) {
  const kind = process.argv[2] as BundleKind;
  process.send(await measureBundle(kind), () => process.exit(0));
}
