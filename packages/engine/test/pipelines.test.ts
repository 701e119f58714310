import { describe, expect, it } from 'vitest';
import {
  buildGrid,
  edit,
  gaussianNoise,
  guidedEps,
  interpolate,
  invert,
  type PipelineProgress,
  reconstruct,
  runSampler,
  type SamplerSpec,
  sample,
  type Tensor,
} from '../src/index.ts';
import { analyticModel, COMPONENTS, maxAbs, rms } from './helpers.ts';

const SPECS: SamplerSpec[] = [
  { name: 'obelm' },
  { name: 'ddim' },
  { name: 'bdia', gamma: 1 },
  { name: 'edict', p: 0.93 },
];
const image = (base: Float64Array, seed: number, scale = 0.05): Tensor => {
  const noise = gaussianNoise(seed, base.length);
  return { data: base.map((v, j) => v + scale * noise[j]!), shape: [1, 3, 4, 4] };
};
const nearest = (x: Float64Array) =>
  COMPONENTS.map((c, k) => [rms(x, c.mean), k] as const).sort((a, b) => a[0] - b[0])[0]![1];

describe('pipelines over an analytic pixel-space model', () => {
  it.each(SPECS.filter((s) => s.name !== 'ddim').map((s) => [s.name, s] as const))(
    '%s reconstructs exactly (latent error <= 1e-10), with and without CFG',
    async (_, sampler) => {
      for (const guidance of [1, 2]) {
        const model = analyticModel();
        const r = await reconstruct(model, {
          image: image(COMPONENTS[0]!.mean, 1, 0.3),
          prompt: 'dark',
          sampler,
          guidance,
        });
        expect(r.latentMaxAbsError).toBeLessThanOrEqual(1e-10);
        expect(r.pixelMse).toBeLessThan(1e-20);
      }
    },
  );

  it('DDIM reconstruction is not exact (the contrast the API reports)', async () => {
    const r = await reconstruct(analyticModel(), {
      image: image(COMPONENTS[0]!.mean, 1, 0.3),
      sampler: { name: 'ddim' },
    });
    expect(r.latentMaxAbsError).toBeGreaterThan(1e-3);
  });

  it.each(['obelm', 'ddim'] as const)(
    "%s: the error map is max_c |x_0' - x_0| per position, its maximum the latent error",
    async (name) => {
      const input = image(COMPONENTS[0]!.mean, 1, 0.3);
      const r = await reconstruct(analyticModel(), { image: input, sampler: { name } });
      expect(r.errorMap.shape).toEqual([1, 4, 4]);
      expect(Math.max(...r.errorMap.data)).toBe(r.latentMaxAbsError);
      // The model is pixel space (identity encode/decode), so x_0' is the output image and x_0 the input.
      const plane = 16;
      const expected = Array.from({ length: plane }, (_, p) =>
        Math.max(
          ...[0, 1, 2].map((c) => Math.abs(r.image.data[c * plane + p]! - input.data[c * plane + p]!)),
        ),
      );
      expect([...r.errorMap.data]).toEqual(expected);
    },
  );

  it('sample from a seed gives the prompted component and keeps (x_1, x_0) for an exact inversion', async () => {
    const model = analyticModel();
    const out = await sample(model, { prompt: 'bright', seed: 3 });
    expect(nearest(out.image.data)).toBe(1);
    expect(out.state).toMatchObject({ kind: 'pair', index: 1 });
    // Same seed, same image; the kept pair inverts back to the seed's noise.
    expect((await sample(model, { prompt: 'bright', seed: 3 })).image).toEqual(out.image);
    const cond = await model.embed('bright');
    const back = await runSampler({ name: 'obelm' }, 'invert', out.state, 20, {
      grid: buildGrid(model.schedule, 20),
      eps: guidedEps(model.eps, cond, cond, 1),
      shape: [1, 3, 4, 4],
    });
    expect(back.kind === 'pair' && maxAbs(back.upper, gaussianNoise(3, 48))).toBeLessThan(1e-9);
  });

  it.each(['single', 'pair'] as const)(
    'edit (%s restart) moves a dark image to the bright component',
    async (restart) => {
      const model = analyticModel();
      const source = image(COMPONENTS[0]!.mean, 2);
      const out = await edit(model, {
        image: source,
        sourcePrompt: 'dark',
        targetPrompt: 'bright',
        strength: restart === 'single' ? 0.5 : 1,
        restart,
      });
      expect(nearest(source.data)).toBe(0);
      expect(nearest(out.image.data)).toBe(1);
      expect(out.freeze).toBe(restart === 'single' ? 10 : 0);
      expect(out.inverted.index).toBe(20 - out.freeze);
    },
  );

  it('interpolate returns one image per weight, ends reproduce the inputs', async () => {
    const model = analyticModel();
    const a = image(COMPONENTS[0]!.mean, 4);
    const b = image(COMPONENTS[2]!.mean, 5);
    const weights = [0, 0.25, 0.5, 0.75, 1];
    const out = await interpolate(model, { from: { image: a }, to: { image: b }, weights });
    expect(out.images).toHaveLength(weights.length);
    expect(maxAbs(out.images[0]!.data, a.data)).toBeLessThan(1e-9);
    expect(maxAbs(out.images[4]!.data, b.data)).toBeLessThan(1e-9);
    // From stored noises: no inversion stage.
    const fromStates = await interpolate(model, {
      from: { state: out.ends[0] },
      to: { state: out.ends[1] },
      weights: [0.5],
    });
    expect(fromStates.images[0]).toEqual(out.images[2]);
  });

  it('reports one progress count across stages and resumes bit-identically from any step', async () => {
    const model = analyticModel();
    const req = {
      image: image(COMPONENTS[1]!.mean, 6),
      sourcePrompt: 'bright',
      targetPrompt: 'red',
      restart: 'single' as const,
    };
    const seen: PipelineProgress[] = [];
    const whole = await edit(model, { ...req, onProgress: (p) => void seen.push(p) });
    // invert 10 steps (N - f with f = 10), then sample 10 steps from x_10 alone.
    expect(seen.map((p) => p.step)).toEqual(Array.from({ length: 20 }, (_, k) => k + 1));
    expect(new Set(seen.map((p) => p.total))).toEqual(new Set([20]));
    expect(seen.map((p) => p.stage)).toEqual([...Array(10).fill(0), ...Array(10).fill(1)]);
    for (const cut of [4, 10, 15]) {
      const checkpoint = seen[cut - 1]!;
      const later: number[] = [];
      const resumed = await edit(model, {
        ...req,
        resume: checkpoint,
        onProgress: (p) => void later.push(p.step),
      });
      expect(resumed.image).toEqual(whole.image);
      expect(resumed.state).toEqual(whole.state);
      expect(later).toEqual(Array.from({ length: 20 - cut }, (_, k) => cut + k + 1));
    }
  });

  it('honours an AbortSignal', async () => {
    const controller = new AbortController();
    const run = invert(analyticModel(), {
      image: image(COMPONENTS[0]!.mean, 7),
      signal: controller.signal,
      onProgress: (p) => {
        if (p.step === 2) controller.abort();
      },
    });
    await expect(run).rejects.toThrow(expect.objectContaining({ code: 'aborted' }));
  });

  it('rejects images of the wrong size', async () => {
    await expect(
      invert(analyticModel(), { image: { data: new Float64Array(12), shape: [1, 3, 2, 2] } }),
    ).rejects.toThrow(expect.objectContaining({ code: 'shape_mismatch' }));
  });
});
