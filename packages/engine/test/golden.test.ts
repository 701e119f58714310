import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { runGolden, runGoldenFile } from '../src/testing.ts';

const fixture = (name: string) =>
  JSON.parse(readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8'));
const vectors = fixture('belm_vectors.json');

describe('golden vectors (same code as `npm run golden`)', async () => {
  const results = await runGolden(vectors);

  it('covers the schedule checks and every case', () => {
    expect(results.map((r) => r.id)).toEqual([
      'schedule_and_timestep_checks',
      ...vectors.cases.map((c: { id: string }) => c.id),
    ]);
  });

  it.each(results.map((r) => [r.id, r] as const))('%s passes within the file tolerances', (_, r) => {
    expect(r.checks.filter((c) => !c.passed)).toEqual([]);
    expect(r.checks.length).toBeGreaterThan(10);
  });

  it('fails a case whose expected value is perturbed', async () => {
    const broken = structuredClone(vectors);
    broken.cases = [broken.cases[0]];
    broken.cases[0].obelm.sample_x0[0][0] += 1e-9;
    const [, r] = await runGolden(broken);
    expect(r!.passed).toBe(false);
    expect(r!.checks.find((c) => !c.passed)?.field).toBe('obelm.sample_x0');
  });
});

// Cases the engine was not written against, from an independent float64 reference of the formulas
// (docs/math.md §11.4): other step counts (7, 13, 20, 33), batches, mixtures of 2 and 4 components, leading
// and trailing spacing, and the linear (DDPM) beta schedule.
describe.each(['unseen_vectors.json', 'unseen_trailing.json', 'unseen_linear.json'])(
  'unseen cases: %s',
  (name) => {
    it('every case passes within the file tolerances', async () => {
      const results = await runGoldenFile(new URL(`./fixtures/${name}`, import.meta.url));
      expect(results.length).toBeGreaterThan(3);
      expect(results.flatMap((r) => r.checks.filter((c) => !c.passed))).toEqual([]);
    });
  },
);
