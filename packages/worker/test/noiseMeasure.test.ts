import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { JobParams, ParamsOf } from '@obelm/core';
import type { DiffusionModel } from '@obelm/engine';
import { type LoadedModel, loadBundle, readNoiseArtifact, writeNoiseArtifact } from '@obelm/models';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hardwareOf } from '../src/hardware.ts';
import { pipelineRunner } from '../src/job/pipelines.ts';
import { measuredExactness, noiseHardwareMetrics } from '../src/job/provenance.ts';
import type { RunInput, RunResult } from '../src/job/runner.ts';

const dir = mkdtempSync(join(tmpdir(), 'obelm-measure-'));
let demo: LoadedModel;
beforeAll(async () => {
  demo = await loadBundle('demo', { provider: 'cpu', cacheDir: join(dir, 'models') });
});
afterAll(async () => {
  await demo.close();
  rmSync(dir, { recursive: true, force: true });
});

const common = {
  model: 'demo',
  steps: 10,
  guidance: 2,
  negativePrompt: '',
  sampler: { name: 'obelm' },
  outputFormat: 'png',
} as const;
const prompt = 'red circle';

/** One job through the worker's pipelines, as the worker runs it, on `hardware`. */
async function run(
  params: JobParams,
  inputs: RunInput[],
  model: DiffusionModel = demo,
  hardware?: Awaited<ReturnType<typeof hardwareOf>>,
): Promise<RunResult> {
  return pipelineRunner({
    params,
    model,
    hardware: hardware ?? (await hardwareOf(demo)),
    inputs,
    signal: new AbortController().signal,
    onStep: async () => {},
  });
}

type NoiseInput = Extract<RunInput, { type: 'noise' }>;

/** A noise input as the worker reads it: the artifact through its file format. */
const noiseInput = (result: RunResult): NoiseInput => ({
  type: 'noise',
  jobId: 'inverted',
  jobKind: 'invert',
  artifact: readNoiseArtifact(writeNoiseArtifact(result.noise!)),
});

/**
 * Exactness is a property of the hardware (docs/math.md §10). A run measures it instead of assuming it: the eps
 * drift of noise made elsewhere (its maker's last eps, recomputed here) and, sampling an inversion back in its own
 * field, the round trip against the x_0 the inversion kept.
 */
describe('measured exactness of a noise input', () => {
  it('same hardware: the round trip is exact and no drift is measured; elsewhere: drift and error are reported', async () => {
    // An image the demo made, inverted: the artifact keeps its last eps and x_0.
    const made = await run({ kind: 'sample', ...common, prompt, seed: 11 }, []);
    const inverted = await run({ kind: 'invert', ...common, prompt }, [
      { type: 'image', pixels: made.images[0]! },
    ]);
    expect(inverted.noise).toMatchObject({ lastEps: { at: 'lower' }, origin: expect.any(Float64Array) });
    const input = noiseInput(inverted);
    const back: ParamsOf<'sample'> = { kind: 'sample', ...common, prompt };

    const here = await run(back, [input]);
    expect(here.metrics.latentMaxAbsError).toBeLessThanOrEqual(1e-12);
    expect(here.metrics.noiseEpsDrift).toBeUndefined();

    // Another prompt is not a reconstruction: nothing to measure against.
    expect((await run({ ...back, prompt: 'blue circle' }, [input])).metrics).toEqual({});

    // The same artifact as if an A10G had made it: the drift is measured (0: it is really this CPU).
    const hardware = await hardwareOf(demo);
    const elsewhere = { provider: 'cuda', device: 'NVIDIA A10G', onnxruntime: hardware.onnxruntime };
    const foreign: NoiseInput = {
      ...input,
      artifact: { ...input.artifact, meta: { ...input.artifact.meta, provenance: elsewhere } },
    };
    const same = await run(back, [foreign]);
    expect(same.metrics).toEqual({ latentMaxAbsError: here.metrics.latentMaxAbsError, noiseEpsDrift: 0 });
    const metrics = { ...same.metrics, ...noiseHardwareMetrics([foreign], hardware) };
    expect(metrics).toMatchObject({ hardwareMatch: false, noiseHardware: elsewhere });
    expect(measuredExactness(metrics)).toEqual(['latentMaxAbsError', 'noiseEpsDrift']);

    // Really other hardware: float32 kernels one ulp apart. The drift and the round trip's error say so.
    const drifting: DiffusionModel = {
      ...demo,
      eps: async (x, t, emb, signal) => (await demo.eps(x, t, emb, signal)).map((v) => v * (1 + 2 ** -23)),
    };
    const other = await run(back, [foreign], drifting);
    expect(other.metrics.noiseEpsDrift).toBeGreaterThan(0);
    expect(other.metrics.latentMaxAbsError).toBeGreaterThan(here.metrics.latentMaxAbsError!);
    expect(other.metrics.latentMaxAbsError).toBeGreaterThan(1e-10);
  });
});
