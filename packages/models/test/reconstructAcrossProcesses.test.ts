/**
 * Exactness across processes: invert an image through a bundle (the tiny SD-layout bundle, and the demo bundle)
 * with O-BELM, store the float64 pair as a noise artifact, then sample it back in a fresh Node process (tsx) that
 * only sees the bundle folder and the file. The clean latent must come back within 1e-8 max-abs (exact given
 * the stored pair, docs/math.md §4).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { invert } from '@obelm/engine';
import { describe, expect, it } from 'vitest';
import { loadBundle } from '../src/bundle/load.ts';
import { ensureDemoBundle } from '../src/demo/bundle.ts';
import { writeNoiseArtifact, writeSafetensors } from '../src/noise/index.ts';
import { writeTinySdBundle } from '../src/testing.ts';

const repoRoot = resolve(fileURLToPath(import.meta.url), '../../../..');
const stepCounts = [10, 20, 50];

/** Runs in the child: load bundle + artifact, check it fits, sample from the pair, report the latent error. */
const childScript = (modelsIndex: string, engineIndex: string) => `
import { readFileSync } from 'node:fs';
import { sample } from '${engineIndex}';
import { checkCompatible, loadBundle, readNoiseArtifact, readSafetensors } from '${modelsIndex}';
const [dir, ...steps] = process.argv.slice(2);
const model = await loadBundle(dir, { provider: 'cpu', threads: 1 });
const errors = {};
for (const n of steps) {
  const { state, meta } = readNoiseArtifact(readFileSync(dir + '/noise-' + n + '.safetensors'));
  checkCompatible(meta, { bundleId: model.id, schedule: model.schedule, latentShape: model.latentShape });
  const result = await sample(model, {
    state, prompt: meta.prompt, negativePrompt: meta.negativePrompt, guidance: meta.guidance,
    steps: meta.steps, sampler: meta.sampler, firstInversionTimestep: meta.firstInversionTimestep,
  });
  if (result.state.kind !== 'pair') throw new Error('expected a pair, got ' + result.state.kind);
  const x0 = readSafetensors(readFileSync(dir + '/x0-' + n + '.safetensors')).tensors.get('x0').data;
  let worst = 0;
  for (let i = 0; i < x0.length; i++) worst = Math.max(worst, Math.abs(result.state.lower[i] - x0[i]));
  errors[n] = worst;
}
await model.close();
console.log(JSON.stringify(errors));
`;

/** A smooth off-dataset test image of the bundle's size, in [-0.8, 0.8]. */
const imageOfSize = ([h, w]: readonly [number, number]) => ({
  data: new Float64Array(3 * h * w).map((_, i) => Math.sin(i * 0.013) * 0.8),
  shape: [1, 3, h, w],
});

/** Inverts `image` at each step count in this process and stores noise-N / x0-N files in the bundle folder. */
async function invertAndStore(dir: string, prompt: string, guidance: number): Promise<void> {
  const model = await loadBundle(dir, { provider: 'cpu', threads: 1 });
  for (const steps of stepCounts) {
    const sampler = { name: 'obelm' } as const;
    const image = imageOfSize(model.imageSize);
    const { state, latent } = await invert(model, { image, prompt, guidance, steps, sampler });
    expect(state.kind).toBe('pair');
    expect(state.index).toBe(steps);
    const meta = {
      bundleId: model.id,
      schedule: model.schedule,
      steps,
      sampler,
      prompt,
      negativePrompt: '',
      guidance,
      firstInversionTimestep: 1,
      freezeIndex: 0,
      imageSize: model.imageSize as [number, number],
      latentShape: model.latentShape,
    };
    writeFileSync(join(dir, `noise-${steps}.safetensors`), writeNoiseArtifact({ state, meta }));
    writeFileSync(
      join(dir, `x0-${steps}.safetensors`),
      writeSafetensors([['x0', { shape: model.latentShape, data: latent }]], {}),
    );
  }
  await model.close();
}

/** Samples every stored pair back in a fresh tsx process; returns the max-abs latent error per step count. */
function sampleInChild(dir: string): Record<string, number> {
  const script = join(dir, 'child.mts');
  const url = (path: string) => pathToFileURL(join(repoRoot, path)).href;
  writeFileSync(
    script,
    childScript(url('packages/models/src/index.ts'), url('packages/engine/src/index.ts')),
  );
  const child = spawnSync(process.execPath, ['--import', 'tsx', script, dir, ...stepCounts.map(String)], {
    cwd: repoRoot,
    encoding: 'utf8',
  });
  expect(child.status, child.stderr).toBe(0);
  return JSON.parse(child.stdout.trim().split('\n').at(-1)!) as Record<string, number>;
}

describe('O-BELM through the tiny SD bundle, across processes', () => {
  const variants = {
    'fp32, int64 timestep': {},
    'fp16, float32 timestep': { fp16: true, timestep: 'float32' },
  } as const;
  for (const [name, options] of Object.entries(variants)) {
    it(`reconstructs the latent from the stored float64 pair within 1e-8 at 10, 20, 50 steps (${name})`, async () => {
      const dir = mkdtempSync(join(tmpdir(), 'obelm-sd-rt-'));
      await writeTinySdBundle(dir, options);
      await invertAndStore(dir, 'a photo of a red cat', 3);
      const errors = sampleInChild(dir);
      console.log(`O-BELM tiny-SD (${name}) latent reconstruction max-abs error by steps:`, errors);
      for (const steps of stepCounts) expect(errors[steps]).toBeLessThan(1e-8);
    });
  }
});

describe('O-BELM through the demo bundle, across processes', () => {
  it('reconstructs an off-dataset image from the stored float64 pair within 1e-8 at 10, 20, 50 steps', async () => {
    const dir = await ensureDemoBundle(mkdtempSync(join(tmpdir(), 'obelm-demo-rt-')));
    // CFG with g = 1.5 under a prompt: conditioning and the batched guidance path are part of the round trip.
    await invertAndStore(dir, 'red circle', 1.5);
    const errors = sampleInChild(dir);
    console.log('O-BELM demo latent reconstruction max-abs error by steps:', errors);
    for (const steps of stepCounts) expect(errors[steps]).toBeLessThan(1e-8);
  });
});
