import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ModelEntrySchema } from '@obelm/core';
import { afterAll, describe, expect, it } from 'vitest';
import { validateBundle } from '../src/bundle/validate.ts';
import { ModelError } from '../src/runtime/errors.ts';
import { writeTinySdExport } from '../src/testing.ts';

/**
 * What `obelm admin models add` checks before it installs a bundle: the load checks, a valid catalog entry, and
 * sample -> invert and image round trips within 1e-8, on a tiny export as today's optimum writes it.
 */

const root = mkdtempSync(join(tmpdir(), 'obelm-validate-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

async function tinyExport(name: string): Promise<string> {
  const dir = join(root, name);
  await writeTinySdExport(dir, 'optimum');
  return dir;
}

describe('validateBundle', () => {
  it('accepts an optimum export: both round trips come back within 1e-8, its entry carries the install options', async () => {
    const dir = await tinyExport('optimum');
    const told: string[] = [];
    const result = await validateBundle(dir, {
      id: 'tiny',
      tenants: ['acme'],
      description: 'a tiny export',
      onCheck: (check) => told.push(check),
    });
    expect(result.roundTripError).toBeLessThanOrEqual(1e-8);
    expect(result.imageRoundTripError).toBeLessThanOrEqual(1e-8);
    expect(ModelEntrySchema.parse(result.entry)).toEqual(result.entry);
    expect(result.entry).toMatchObject({
      id: 'tiny',
      kind: 'sd',
      description: 'a tiny export',
      imageSize: [64, 64],
      tenants: ['acme'],
    });
    expect(result.manifest.kind).toBe('sd');
    // Told as they pass, in order: load, entry, noise round trip, image round trip.
    expect(told).toEqual(result.checks);
    expect(told).toHaveLength(4);
    expect(told[0]).toMatch(
      /^loads, passing the load checks: sd bundle, epsilon prediction, 64x64 px images, latents \[1, 4, 8, 8\]/,
    );
    expect(told[1]).toMatch(/^catalog entry tiny: steps 2-999/);
    expect(told[2]).toMatch(
      /^noise -> sample -> invert round trip, 6 O-BELM steps at guidance 3: max-abs error /,
    );
    expect(told[3]).toMatch(/^image -> encode -> invert -> sample round trip/);
  });

  it('keeps the round trip within the step limits, and refuses one off by more than the tolerance', async () => {
    const dir = await tinyExport('strict');
    const few = await validateBundle(dir, { steps: 1 });
    expect(few.checks[2]).toContain('2 O-BELM steps'); // the fewest any sampler takes
    // A tolerance no measurement can meet: the refusal says what came back and by how much.
    const refused = validateBundle(dir, { tolerance: -1 });
    await expect(refused).rejects.toThrow(ModelError);
    await expect(refused).rejects.toMatchObject({
      code: 'bundle_invalid_manifest',
      message: expect.stringMatching(
        /seeded noise sampled and inverted \(6 O-BELM steps .*\) comes back off by .* more than -1/,
      ),
    });
  });

  it('skips the image round trip of an export without a VAE encoder (text-to-image only)', async () => {
    const dir = await tinyExport('no-encoder');
    rmSync(join(dir, 'vae_encoder'), { recursive: true });
    const result = await validateBundle(dir);
    expect(result.imageRoundTripError).toBeUndefined();
    expect(result.roundTripError).toBeLessThanOrEqual(1e-8);
    expect(result.checks.at(-1)).toMatch(/^no image round trip: the bundle has no VAE encoder/);
  });

  it('refuses what the load refuses, with its reason', async () => {
    const dir = await tinyExport('sample-prediction');
    const config = join(dir, 'scheduler', 'scheduler_config.json');
    writeFileSync(
      config,
      JSON.stringify({ ...JSON.parse(readFileSync(config, 'utf8')), prediction_type: 'sample' }),
    );
    await expect(validateBundle(dir)).rejects.toMatchObject({
      name: 'ModelError',
      code: 'bundle_invalid_manifest',
      message: expect.stringMatching(/prediction_type.*sample/),
    });
  });

  it('refuses an id the API cannot take, before any round trip', async () => {
    const dir = await tinyExport('bad-entry');
    await expect(validateBundle(dir, { id: 'Not An Id!' })).rejects.toMatchObject({
      code: 'bundle_invalid_manifest',
      message: expect.stringContaining('not a valid catalog entry'),
    });
  });
});
