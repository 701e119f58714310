import { artifactRule, type JobParams, type ModelEntry } from '@obelm/core';
import { describe, expect, it } from 'vitest';
import { resolveParams } from '../src/jobs/resolve.ts';

const model: ModelEntry = {
  id: 'm',
  kind: 'pixel',
  imageSize: [32, 32],
  limits: { minSteps: 2, maxSteps: 100, maxGuidance: 3 },
  defaults: { steps: 20, guidance: 1, editStrength: 0.5, editGuidance: 1.5 },
};

const sampled: JobParams = {
  kind: 'sample',
  model: 'm',
  steps: 10,
  guidance: 2,
  negativePrompt: 'green',
  sampler: { name: 'bdia', gamma: 0.5 },
  outputFormat: 'png',
  prompt: 'red circle',
};
const inverted: JobParams = { ...sampled, kind: 'invert', prompt: 'x' };
const from = (params: JobParams, job: JobParams['kind']) => ({
  params,
  rule: artifactRule(job, params.kind)!,
});

const errorOf = (fn: () => unknown) => {
  try {
    fn();
  } catch (err) {
    return err as { status: number; code: string; details: unknown };
  }
  throw new Error('expected an error');
};

describe('resolveParams', () => {
  it("fills every default of each kind from the model's catalog entry", () => {
    expect(resolveParams({ kind: 'edit', targetPrompt: 't' }, model)).toEqual({
      kind: 'edit',
      model: 'm',
      steps: 20,
      guidance: 1.5,
      negativePrompt: '',
      sampler: { name: 'obelm' },
      outputFormat: 'png',
      sourcePrompt: '',
      targetPrompt: 't',
      strength: 0.5,
    });
    const fresh = resolveParams({ kind: 'sample' }, model);
    expect(fresh.kind === 'sample' && Number.isInteger(fresh.seed)).toBe(true);
    expect(resolveParams({ kind: 'interpolate', images: [], weights: [0, 1] } as never, model)).toMatchObject(
      {
        kind: 'interpolate',
        weights: [0, 1],
        prompt: '',
        guidance: 1,
      },
    );
  });

  it("refuses settings outside the model's limits, with the limit in details", () => {
    expect(errorOf(() => resolveParams({ kind: 'sample', steps: 101 }, model))).toMatchObject({
      status: 400,
      code: 'steps_out_of_range',
      details: { field: 'steps', min: 2, max: 100 },
    });
    expect(errorOf(() => resolveParams({ kind: 'sample', guidance: 3.5 }, model))).toMatchObject({
      code: 'guidance_out_of_range',
      details: { field: 'guidance', max: 3 },
    });
  });

  it('inherits what an artifact implies, and takes no seed from one', () => {
    const resampled = resolveParams({ kind: 'sample', prompt: 'p' }, model, from(inverted, 'sample'));
    expect(resampled).toMatchObject({ steps: 10, sampler: { name: 'bdia', gamma: 0.5 }, guidance: 1 });
    expect('seed' in resampled).toBe(false);
    // A kept pair: an edit takes its field as defaults, and its own strength.
    expect(resolveParams({ kind: 'edit', targetPrompt: 't' }, model, from(sampled, 'edit'))).toMatchObject({
      sourcePrompt: 'red circle',
      guidance: 2,
      negativePrompt: 'green',
      strength: 0.5,
    });
    expect(resolveParams({ kind: 'edit', targetPrompt: 't' }, model, from(inverted, 'edit'))).toMatchObject({
      strength: 1,
    });
  });

  it('refuses a setting the artifact fixes, naming it', () => {
    expect(
      errorOf(() => resolveParams({ kind: 'invert', guidance: 1 }, model, from(sampled, 'invert'))),
    ).toMatchObject({
      status: 409,
      code: 'incompatible_noise',
      details: { field: 'guidance', noise: 2, request: 1 },
    });
    // The sampler compares by value, whatever the key order.
    const same = resolveParams(
      { kind: 'invert', sampler: { gamma: 0.5, name: 'bdia' } as never },
      model,
      from(sampled, 'invert'),
    );
    expect(same).toMatchObject({ prompt: 'red circle', guidance: 2 });
    expect(
      errorOf(() =>
        resolveParams({ kind: 'edit', targetPrompt: 't', strength: 0.3 }, model, from(inverted, 'edit')),
      ),
    ).toMatchObject({ code: 'incompatible_noise', details: { field: 'strength' } });
  });
});
