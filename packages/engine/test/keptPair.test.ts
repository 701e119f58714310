import { describe, expect, it } from 'vitest';
import {
  edit,
  gaussianNoise,
  invert,
  type PipelineProgress,
  type SamplerSpec,
  type SamplerState,
  sample,
} from '../src/index.ts';
import { analyticModel, COMPONENTS, maxAbs, maxRel, rms } from './helpers.ts';

/**
 * invert(sample(x_N)) is exact when the inversion starts from the pair (x_1, x_0) the sample run kept
 * (docs/math.md §4): the invert and edit pipelines take that pair as their start instead of an image.
 */

const EXACT: SamplerSpec[] = [{ name: 'obelm' }, { name: 'bdia', gamma: 1 }, { name: 'edict', p: 0.93 }];
const STEPS = 20;
const SEED = 11;

/** Every array of two states of the same kind and index, compared by max |a - b| / (1 + |b|). */
function stateRel(a: SamplerState, b: SamplerState): number {
  expect([a.kind, a.index]).toEqual([b.kind, b.index]);
  if (a.kind === 'single' && b.kind === 'single') return maxRel(a.x, b.x);
  if (a.kind === 'pair' && b.kind === 'pair')
    return Math.max(maxRel(a.upper, b.upper), maxRel(a.lower, b.lower));
  if (a.kind === 'coupled' && b.kind === 'coupled') return Math.max(maxRel(a.x, b.x), maxRel(a.y, b.y));
  throw new Error('unreachable');
}

/**
 * A seeded sample run with its trajectory: `at(i)` is the state it held at grid index i, e.g. (x_i, x_{i-1})
 * for a pair. EDICT's coupled start (x_N, y_N) = (z, z) is made inside its first step, so it is added here.
 */
async function sampled(sampler: SamplerSpec, prompt: string, guidance: number) {
  const model = analyticModel();
  const z = gaussianNoise(SEED, 48);
  const trajectory: SamplerState[] = [{ kind: 'coupled', index: STEPS, x: z, y: z }];
  const run = await sample(model, {
    prompt,
    seed: SEED,
    sampler,
    guidance,
    steps: STEPS,
    onProgress: (p: PipelineProgress) => void trajectory.push(p.state),
  });
  const at = (state: SamplerState) =>
    trajectory.find((s) => s.kind === state.kind && s.index === state.index) ?? fail(state);
  return { model, run, at };
}

const fail = (state: SamplerState): never => {
  throw new Error(`the run held no ${state.kind} state at ${state.index}`);
};

const nearest = (x: Float64Array) =>
  COMPONENTS.map((c, k) => [rms(x, c.mean), k] as const).sort((a, b) => a[0] - b[0])[0]![1];

describe('inverting from the pair a sample run kept', () => {
  it.each(EXACT.map((s) => [s.name, s] as const))(
    '%s: invert returns the starting state of the run (<= 1e-10 relative), with and without CFG',
    async (_, sampler) => {
      for (const guidance of [1, 2]) {
        const { model, run, at } = await sampled(sampler, 'dark', guidance);
        const back = await invert(model, {
          state: run.state,
          prompt: 'dark',
          sampler,
          guidance,
          steps: STEPS,
        });
        // The state the run held at the noisy end: (x_N, x_{N-1}) for O-BELM/BDIA, (x_N, y_N) for EDICT.
        expect(back.state.index).toBe(STEPS);
        expect(stateRel(back.state, at(back.state))).toBeLessThanOrEqual(1e-10);
      }
    },
  );

  it.each(EXACT.map((s) => [s.name, s] as const))(
    '%s: an edit inverts along the sample run (state at N - f within 1e-10) and re-samples it',
    async (_, sampler) => {
      const { model, run, at } = await sampled(sampler, 'dark', 2);
      const common = { state: run.state, sourcePrompt: 'dark', sampler, guidance: 2, steps: STEPS };
      const same = await edit(model, { ...common, targetPrompt: 'dark', strength: 0.5, restart: 'pair' });
      expect(same.freeze).toBe(10);
      expect(same.inverted.index).toBe(STEPS - same.freeze);
      expect(stateRel(same.inverted, at(same.inverted))).toBeLessThanOrEqual(1e-10);
      // The same prompt from the stored pair re-samples the generated image itself.
      expect(maxAbs(same.image.data, run.image.data)).toBeLessThanOrEqual(1e-10);

      const other = await edit(model, { ...common, targetPrompt: 'bright', restart: 'single' });
      expect(nearest(run.image.data)).toBe(0);
      expect(nearest(other.image.data)).toBe(1);
    },
  );

  it('takes exactly one start, and a state only at the clean end', async () => {
    const model = analyticModel();
    const { run, at } = await sampled({ name: 'obelm' }, 'dark', 1);
    const midway = at({ kind: 'pair', index: 5, upper: run.image.data, lower: run.image.data });
    const image = { data: new Float64Array(48), shape: [1, 3, 4, 4] };
    await expect(invert(model, { image, state: run.state } as never)).rejects.toThrow(
      expect.objectContaining({ code: 'invalid_state' }),
    );
    await expect(invert(model, {} as never)).rejects.toThrow(
      expect.objectContaining({ code: 'invalid_state' }),
    );
    await expect(
      edit(model, { state: midway, sourcePrompt: 'dark', targetPrompt: 'bright' }),
    ).rejects.toThrow(expect.objectContaining({ code: 'invalid_state' }));
  });
});
