/**
 * Provider facts (issue 14): what the worker decides about batching on one onnxruntime provider, and what a
 * batch costs there. For an SD bundle on the given provider:
 * - the worker's own start-up check (chooseBatchMode, batching/invariance.ts) over every batch size up to
 *   maxRows: which sizes keep each row's eps bitwise the same as alone, whether rows stay consistent at maxRows
 *   (what 'padded' mode relies on), the mode the worker would run in, and whether jobs stay exact in it;
 * - the batch curve: median ms of one eps call at each size, and the line a + b * rows through it (the stub GPU
 *   model of the scheduler bench assumes a = 15, b = 1).
 *
 * The bundle is the tiny SD bundle (packages/models testing), or that bundle with its UNet replaced by a
 * real-size export (`--unet DIR`: scripts/device/exportUnet.py writes one of SD 1.5's shape), so the loader, the
 * casts and the check are the worker's own. scripts/device/check.sh runs it on a lent GPU machine (WebGPU over
 * Vulkan); here it runs on the CPU provider, or on WebGPU over a software Vulkan driver.
 *
 * Usage: npx tsx test/bench/providerFacts.ts [--provider cpu|webgpu|cuda] [--unet DIR --hidden 768 --latent 64]
 *          [--max-rows 16] [--curve 1,2,4,8,16] [--repeats 10] [--threads N] [--out facts.json]
 */
import { mkdtemp, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { type DiffusionModel, gaussianNoise } from '@obelm/engine';
import { type ExecutionProvider, loadBundle } from '@obelm/models';
import { writeTinySdBundle } from '@obelm/models/testing';
import { chooseBatchMode, type SizeInvariance } from '@obelm/worker/batching';
import { medianMs } from '../../packages/models/bench/report.ts';

export interface ProviderFactsOptions {
  readonly provider: ExecutionProvider;
  /**
   * A UNet export's folder (model.onnx, and its model.onnx_data) to put in the tiny bundle's place, with the
   * hidden width and latent side it takes.
   */
  readonly unet?: { readonly dir: string; readonly hiddenSize: number; readonly latentSize: number };
  /** The worker's OBELM_MAX_BATCH_ROWS: the check covers sizes 1..maxRows. */
  readonly maxRows: number;
  readonly curve: readonly number[];
  readonly repeats: number;
  /** Intra-op threads of the CPU provider (the worker's OBELM_THREADS). */
  readonly threads?: number;
  /** Each finding as it comes: a run cut short by its time limit still says how far it got. */
  readonly progress?: (line: string) => void;
}

export interface CurvePoint {
  readonly rows: number;
  readonly msPerCall: number;
  readonly msPerRow: number;
}

export interface ProviderFacts {
  readonly provider: ExecutionProvider;
  readonly latentShape: readonly number[];
  readonly maxRows: number;
  readonly mode: 'batched' | 'padded';
  readonly exact: boolean;
  readonly mixedTimesteps: boolean;
  /** Sizes whose rows equal their eps alone, bitwise, and those whose rows do not. */
  readonly invariantSizes: readonly number[];
  readonly failedSizes: readonly number[];
  /** Each size's findings: invariant, consistent at two positions (what padded mode needs), mixed timesteps. */
  readonly sizes: readonly SizeInvariance[];
  /** Opening the sessions, and the check (on a GPU provider its first calls compile the kernels). */
  readonly loadMs: number;
  readonly checkMs: number;
  readonly curve: readonly CurvePoint[];
  /** Least-squares a + b * rows through the curve, ms. */
  readonly fit: { readonly a: number; readonly b: number };
}

export async function measureProviderFacts(options: ProviderFactsOptions): Promise<ProviderFacts> {
  const dir = await mkdtemp(join(tmpdir(), 'obelm-provider-facts-'));
  try {
    // A [batch] timestep, as the real-size export has: the model gets epsRows, and the check covers mixed steps.
    await writeTinySdBundle(dir, {
      timestepShape: 'batch',
      ...(options.unet ? { hiddenSize: options.unet.hiddenSize, latentSize: options.unet.latentSize } : {}),
    });
    // Linked, not copied: a real-size fp32 export is 3.4 GB. Its model.onnx_data resolves beside model.onnx.
    if (options.unet) {
      for (const file of await readdir(options.unet.dir)) {
        await rm(join(dir, 'unet', file), { force: true });
        await symlink(join(options.unet.dir, file), join(dir, 'unet', file));
      }
    }
    const progress = options.progress ?? (() => {});
    const loading = performance.now();
    const model = await loadBundle(dir, {
      provider: options.provider,
      ...(options.threads === undefined ? {} : { threads: options.threads }),
    });
    const loadMs = performance.now() - loading;
    progress(`loaded on ${model.provider} in ${Math.round(loadMs)} ms, latents [${model.latentShape}]`);
    try {
      const started = performance.now();
      const choice = await chooseBatchMode(model, options.maxRows);
      const checkMs = performance.now() - started;
      const { passed, failed } = choice.invariance;
      progress(
        `checked 1..${options.maxRows} in ${Math.round(checkMs)} ms: mode ${choice.mode}, failed at [${failed}]`,
      );
      const curve = await batchCurve(model, options.curve, options.repeats, progress);
      return {
        provider: model.provider,
        latentShape: model.latentShape,
        maxRows: options.maxRows,
        mode: choice.mode,
        exact: choice.exact,
        mixedTimesteps: choice.mixedTimesteps,
        invariantSizes: passed,
        failedSizes: failed,
        sizes: choice.invariance.sizes,
        loadMs: Math.round(loadMs),
        checkMs: Math.round(checkMs),
        curve,
        fit: lineThrough(curve),
      };
    } finally {
      await model.close();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Median wall time of one eps call at each size, after warm-up calls (a GPU provider compiles then). */
async function batchCurve(
  model: DiffusionModel,
  sizes: readonly number[],
  repeats: number,
  progress: (line: string) => void,
): Promise<CurvePoint[]> {
  const rowShape = model.latentShape.slice(1);
  const rowSize = rowShape.reduce((a, b) => a * b, 1);
  const emb = await model.embed('');
  const t = Math.floor(model.schedule.trainTimesteps / 2);
  const points: CurvePoint[] = [];
  for (const rows of sizes) {
    const x = { data: gaussianNoise(rows, rows * rowSize), shape: [rows, ...rowShape] };
    const embRows = new Float32Array(rows * emb.data.length);
    for (let r = 0; r < rows; r++) embRows.set(emb.data, r * emb.data.length);
    const batchEmb = { data: embRows, shape: [rows, ...emb.shape.slice(1)] };
    const ms = await medianMs(repeats, () => model.eps(x, t, batchEmb));
    points.push({ rows, msPerCall: round(ms), msPerRow: round(ms / rows) });
    progress(`${rows} rows: ${round(ms)} ms a call`);
  }
  return points;
}

function lineThrough(points: readonly CurvePoint[]): { a: number; b: number } {
  const mean = (v: readonly number[]) => v.reduce((s, x) => s + x, 0) / v.length;
  const xs = points.map((p) => p.rows);
  const ys = points.map((p) => p.msPerCall);
  const [mx, my] = [mean(xs), mean(ys)];
  const sxx = xs.reduce((s, x) => s + (x - mx) ** 2, 0);
  const b = sxx === 0 ? 0 : xs.reduce((s, x, i) => s + (x - mx) * (ys[i]! - my), 0) / sxx;
  return { a: round(my - b * mx), b: round(b) };
}

const round = (ms: number) => Math.round(ms * 1000) / 1000;

export function printProviderFacts(facts: ProviderFacts): void {
  console.log(
    `provider ${facts.provider}, latents [${facts.latentShape}], loaded in ${facts.loadMs} ms, sizes 1..${facts.maxRows} checked in ${facts.checkMs} ms`,
  );
  console.log(`  invariant at: ${facts.invariantSizes.join(', ') || 'none'}`);
  console.log(`  not invariant at: ${facts.failedSizes.join(', ') || 'none'}`);
  console.table(facts.curve.map((p) => ({ rows: p.rows, 'ms/call': p.msPerCall, 'ms/row': p.msPerRow })));
  console.log(
    `provider facts: ${facts.provider} mode ${facts.mode}, exact: ${facts.exact ? 'yes' : 'no'}, mixed timesteps: ${facts.mixedTimesteps ? 'yes' : 'no'}, eps = ${facts.fit.a} + ${facts.fit.b} * rows ms`,
  );
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({
    options: {
      provider: { type: 'string', default: 'cpu' },
      unet: { type: 'string' },
      hidden: { type: 'string', default: '768' },
      latent: { type: 'string', default: '64' },
      'max-rows': { type: 'string', default: '16' },
      curve: { type: 'string', default: '1,2,4,8,16' },
      repeats: { type: 'string', default: '10' },
      threads: { type: 'string' },
      out: { type: 'string' },
    },
  });
  const count = (name: string, text: string) => {
    const n = Number(text);
    if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} takes whole numbers >= 1, got '${text}'`);
    return n;
  };
  const facts = await measureProviderFacts({
    provider: values.provider as ExecutionProvider,
    ...(values.unet
      ? {
          unet: {
            dir: resolve(values.unet),
            hiddenSize: count('hidden', values.hidden),
            latentSize: count('latent', values.latent),
          },
        }
      : {}),
    maxRows: count('max-rows', values['max-rows']),
    curve: values.curve.split(',').map((rows) => count('curve', rows)),
    repeats: count('repeats', values.repeats),
    ...(values.threads ? { threads: count('threads', values.threads) } : {}),
    progress: (line) => console.log(`  ${line}`),
  });
  printProviderFacts(facts);
  if (values.out) await writeFile(values.out, JSON.stringify(facts, null, 2));
}
