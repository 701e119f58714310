import { describe, expect, it } from 'vitest';
import {
  buildGrid,
  edit,
  epsAt,
  gaussianNoise,
  invert,
  type PipelineProgress,
  type SamplerSpec,
  sample,
} from '../src/index.ts';
import { analyticModel, COMPONENTS } from './helpers.ts';

const bits = (a: Float64Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('hex');
const image = () => {
  const noise = gaussianNoise(4, 48);
  return { data: COMPONENTS[2]!.mean.map((v, j) => v + 0.2 * noise[j]!), shape: [1, 3, 4, 4] };
};
const STEPS = 10;
const tau = (i: number) => buildGrid(analyticModel().schedule, STEPS).timesteps[i]!;
const field = { prompt: 'red', negativePrompt: 'dark', guidance: 2 };

/**
 * The eps of a run's last step, kept with the array of its end state and the timestep it was evaluated at: what
 * other hardware recomputes to measure its drift (docs/math.md §10). Recomputed here, it is bitwise the kept one.
 */
describe('the last eps of a pipeline', () => {
  it.each([
    [{ name: 'obelm' }, 'lower', tau(STEPS - 1)],
    [{ name: 'bdia', gamma: 1 }, 'lower', tau(STEPS - 1)],
    [{ name: 'edict', p: 0.93 }, 'y', tau(STEPS)],
  ] as const)('invert with %j keeps it at %s, timestep %d', async (sampler: SamplerSpec, at, timestep) => {
    const model = analyticModel();
    const run = await invert(model, { image: image(), sampler, steps: STEPS, ...field });
    expect(run.lastEps).toMatchObject({ at, timestep });
    const again = await epsAt(model, { state: run.state, at, timestep, ...field });
    expect(bits(again)).toBe(bits(run.lastEps!.eps));
    expect(bits(run.latent)).toBe(bits(Float64Array.from(image().data)));
  });

  it('sampling with O-BELM keeps it at x_1 (the pair upper), tau_1; inverting one step, at x_0 and its timestep', async () => {
    const model = analyticModel();
    const out = await sample(model, { seed: 2, steps: STEPS, ...field });
    expect(out.lastEps).toMatchObject({ at: 'upper', timestep: tau(1) });
    const again = await epsAt(model, { state: out.state, at: 'upper', timestep: tau(1), ...field });
    expect(bits(again)).toBe(bits(out.lastEps!.eps));
    expect(bits(out.latent)).toBe(bits(out.state.kind === 'pair' ? out.state.lower : new Float64Array()));

    // An edit that inverts one step: from x_0 alone, with the clean end's timestep.
    const oneStep = await edit(model, {
      image: image(),
      sourcePrompt: 'red',
      targetPrompt: 'red',
      strength: 0.1,
      steps: STEPS,
      firstInversionTimestep: 3,
    });
    expect(oneStep.invertedLastEps).toMatchObject({ at: 'lower', timestep: 3 });
  });

  it('is absent where the last call was at no array the end state holds: DDIM, EDICT sampling', async () => {
    const model = analyticModel();
    const ddim = { name: 'ddim' } as const;
    expect((await invert(model, { image: image(), sampler: ddim, steps: STEPS })).lastEps).toBeUndefined();
    expect(
      (await sample(model, { prompt: '', seed: 1, sampler: ddim, steps: STEPS })).lastEps,
    ).toBeUndefined();
    const edict = { name: 'edict', p: 0.93 } as const;
    expect(
      (await sample(model, { prompt: '', seed: 1, sampler: edict, steps: STEPS })).lastEps,
    ).toBeUndefined();
  });

  it("an edit keeps its partial inversion's, and the x_0 it started from", async () => {
    const model = analyticModel();
    const out = await edit(model, {
      image: image(),
      sourcePrompt: 'red',
      targetPrompt: 'bright',
      strength: 0.5,
      steps: STEPS,
    });
    expect(out.invertedLastEps).toMatchObject({ at: 'lower', timestep: tau(STEPS / 2 - 1) });
    const again = await epsAt(model, {
      state: out.inverted,
      at: 'lower',
      timestep: tau(STEPS / 2 - 1),
      prompt: 'red',
      negativePrompt: '',
      guidance: 1,
    });
    expect(bits(again)).toBe(bits(out.invertedLastEps!.eps));
    expect(bits(out.latent)).toBe(bits(Float64Array.from(image().data)));
  });

  it('a run resumed at any step keeps the same last eps, after the stage that made it too', async () => {
    const model = analyticModel();
    const req = { image: image(), sourcePrompt: 'red', targetPrompt: 'bright', strength: 0.5, steps: STEPS };
    const seen: PipelineProgress[] = [];
    const whole = await edit(model, { ...req, onProgress: (p) => void seen.push(p) });
    // The step that ends the partial inversion, and one of the sampling stage after it.
    const ends = [seen.findLast((p) => p.stage === 0)!, seen.find((p) => p.stage === 1)!];
    expect(ends[0]!.lastEps).toMatchObject({ at: 'lower' });
    expect(ends[1]!.completedLastEps?.[0]).toEqual(ends[0]!.lastEps);
    for (const resume of ends) {
      const resumed = await edit(model, { ...req, resume });
      expect(bits(resumed.invertedLastEps!.eps)).toBe(bits(whole.invertedLastEps!.eps));
      expect(resumed.invertedLastEps).toMatchObject({
        at: 'lower',
        timestep: whole.invertedLastEps!.timestep,
      });
    }
  });

  it('refuses an array the state does not hold', async () => {
    const model = analyticModel();
    const { state } = await invert(model, { image: image(), steps: 2 });
    await expect(epsAt(model, { state, at: 'y', timestep: 1, ...field })).rejects.toThrow("no array 'y'");
  });
});
