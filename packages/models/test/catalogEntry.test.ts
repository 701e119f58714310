import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ModelEntrySchema } from '@obelm/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { catalogEntryOf } from '../src/bundle/catalogEntry.ts';
import { readManifest } from '../src/bundle/load.ts';
import { parseManifest } from '../src/bundle/manifest.ts';
import { demoManifest, ensureDemoBundle } from '../src/demo/bundle.ts';
import { DEMO_VOCABULARY } from '../src/demo/dataset.ts';
import { inferSdManifest } from '../src/sd/config.ts';
import { writeTinySdBundle } from '../src/sd/tiny.ts';

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'obelm-catalog-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('catalogEntryOf', () => {
  it('copies the demo bundle manifest: its step limits, guidance cap and defaults', async () => {
    const manifest = await readManifest(await ensureDemoBundle(join(root, 'cache')));
    const entry = catalogEntryOf(manifest, { id: 'demo' });
    expect(ModelEntrySchema.parse(entry)).toEqual(entry);
    expect(entry).toEqual({
      id: 'demo',
      kind: 'pixel',
      description: manifest.description,
      imageSize: [32, 32],
      vocabulary: [...DEMO_VOCABULARY],
      limits: {
        minSteps: manifest.limits?.minSteps,
        maxSteps: manifest.limits?.maxSteps,
        maxGuidance: manifest.defaults.maxGuidance,
      },
      defaults: {
        steps: manifest.defaults.steps,
        guidance: manifest.defaults.guidance,
        editStrength: manifest.defaults.editStrength,
        editGuidance: manifest.defaults.editGuidance,
      },
    });
    // The demo's numbers as the API enforced them before they moved into the manifest.
    expect(entry.limits).toEqual({ minSteps: 2, maxSteps: 200, maxGuidance: 3 });
    expect(entry.defaults).toEqual({ steps: 20, guidance: 1, editStrength: 0.5, editGuidance: 1 });
  });

  it("takes an SD export's guidance cap (10) from its manifest and its step limit from the grids its schedule can run", async () => {
    const dir = join(root, 'tiny-sd');
    await writeTinySdBundle(dir, { manifest: true });
    for (const manifest of [await inferSdManifest(dir), await readManifest(dir)]) {
      const entry = catalogEntryOf(manifest);
      // Leading spacing with steps offset 1 (the tiny export's config): 1000 steps would need timestep 1000.
      expect(entry.limits).toEqual({
        minSteps: 2,
        maxSteps: 999,
        maxGuidance: manifest.defaults.maxGuidance,
      });
      expect(entry.limits.maxGuidance).toBe(10);
      expect(entry).toMatchObject({ kind: 'sd', imageSize: [64, 64] });
      expect(entry).not.toHaveProperty('vocabulary'); // free text
      expect(entry.defaults).toEqual({ steps: 50, guidance: 3, editStrength: 0.8, editGuidance: 3 });
    }
    expect(catalogEntryOf(await readManifest(dir)).id).toBe('tiny-sd');
  });

  it('names the model and its tenants as asked', () => {
    const entry = catalogEntryOf(demoManifest(), { id: 'shapes', tenants: ['acme'] });
    expect(entry).toMatchObject({ id: 'shapes', tenants: ['acme'] });
    expect(catalogEntryOf(demoManifest()).id).toBe(demoManifest().id);
  });

  it('gives a demo-labels bundle the label words as its vocabulary, an unconditioned one none', () => {
    expect(catalogEntryOf(demoManifest()).vocabulary).toHaveLength(17);
    expect(catalogEntryOf({ ...demoManifest(), conditioning: 'none' })).not.toHaveProperty('vocabulary');
  });

  it('refuses a manifest whose defaults break its own limits, or an id jobs cannot name', () => {
    const demo = demoManifest();
    expect(() => catalogEntryOf({ ...demo, limits: { minSteps: 2, maxSteps: 10 } })).toThrow(
      expect.objectContaining({ code: 'bundle_invalid_manifest', message: expect.stringMatching(/steps/) }),
    );
    expect(() =>
      catalogEntryOf({
        ...demo,
        defaults: { ...demo.defaults, editGuidance: demo.defaults.maxGuidance + 1 },
      }),
    ).toThrow(/guidance/);
    expect(() => catalogEntryOf({ ...demo, id: 'sd-1.5' })).toThrow(
      expect.objectContaining({ code: 'bundle_invalid_manifest' }),
    );
  });
});

describe('manifest limits', () => {
  const valid = JSON.parse(JSON.stringify(demoManifest()));

  it.each([
    ['minSteps below 2', { minSteps: 1, maxSteps: 200 }, /limits.minSteps/],
    ['maxSteps below minSteps', { minSteps: 20, maxSteps: 10 }, /limits.maxSteps/],
    ['maxSteps beyond the training timesteps', { minSteps: 2, maxSteps: 1001 }, /limits.maxSteps/],
    ['a non-integer', { minSteps: 2, maxSteps: 2.5 }, /limits.maxSteps/],
  ])('rejects %s', (_, limits, message) => {
    expect(() => parseManifest({ ...valid, limits }, 'bundle')).toThrow(message);
  });

  it('are optional', () => {
    const { limits: _, ...withoutLimits } = valid;
    expect(parseManifest(withoutLimits, 'bundle').limits).toBeUndefined();
    expect(catalogEntryOf(parseManifest(withoutLimits, 'bundle')).limits.maxSteps).toBe(1000);
  });
});
