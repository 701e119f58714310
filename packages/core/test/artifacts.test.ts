import { describe, expect, it } from 'vitest';
import {
  acceptedArtifacts,
  artifactEnd,
  artifactRule,
  artifactStrength,
  GRID_FIELDS,
  JOB_KINDS,
  type JobKind,
  NOISE_KINDS,
  TRAJECTORY_FIELDS,
} from '../src/index.ts';

const grid = ['model', 'steps', 'sampler'];

/**
 * The whole table, written out by hand: for every (job kind, artifact kind) pair, how the job uses that artifact
 * (undefined: it cannot start from it), what the artifact fixes and what it implies.
 */
const EXPECTED: Record<
  JobKind,
  Partial<Record<JobKind, { start: string; fixes: string[]; inherits: string[] }>>
> = {
  invert: {
    sample: {
      start: 'retrace',
      fixes: [...grid, 'prompt', 'guidance', 'negativePrompt'],
      inherits: [...grid, 'prompt', 'guidance', 'negativePrompt'],
    },
  },
  sample: {
    invert: { start: 'resample', fixes: grid, inherits: grid },
    edit: { start: 'resample', fixes: grid, inherits: grid },
  },
  edit: {
    invert: { start: 'resample', fixes: [...grid, 'strength'], inherits: [...grid, 'strength'] },
    edit: { start: 'resample', fixes: [...grid, 'strength'], inherits: [...grid, 'strength'] },
    sample: {
      start: 'retrace',
      fixes: grid,
      inherits: [...grid, 'sourcePrompt', 'guidance', 'negativePrompt'],
    },
  },
  reconstruct: {},
  interpolate: { invert: { start: 'endpoint', fixes: grid, inherits: grid } },
};

describe('noise-artifact rules', () => {
  for (const job of JOB_KINDS) {
    for (const artifact of JOB_KINDS) {
      const expected = EXPECTED[job][artifact];
      it(`${job} from the artifact of ${artifact}: ${expected ? expected.start : 'refused'}`, () => {
        const rule = artifactRule(job, artifact);
        if (!expected) {
          expect(rule).toBeUndefined();
          return;
        }
        expect(rule).toMatchObject({ job, artifact, start: expected.start });
        expect([...rule!.fixes].sort()).toEqual([...expected.fixes].sort());
        expect([...rule!.inherits].sort()).toEqual([...expected.inherits].sort());
        // Whatever an artifact fixes, it also implies; and every run stays on the artifact's grid.
        for (const setting of rule!.fixes) expect(rule!.inherits).toContain(setting);
        for (const field of GRID_FIELDS) expect(rule!.matches).toContain(field);
        // Only an exact retrace of a trajectory checks the field it was sampled in.
        const checksTrajectory = TRAJECTORY_FIELDS.every((f) => rule!.matches.includes(f));
        expect(checksTrajectory).toBe(job === 'invert');
        // Resampling starts at the noisy end, retracing at the clean end.
        if (rule!.start === 'resample') expect(artifactEnd(rule!.artifact)).toBe('noisy');
        if (rule!.start === 'retrace') expect(artifactEnd(rule!.artifact)).toBe('clean');
      });
    }
  }

  it('lists the artifacts each kind accepts, only of kinds that leave noise', () => {
    expect(acceptedArtifacts('invert')).toEqual(['sample']);
    expect(acceptedArtifacts('sample').sort()).toEqual(['edit', 'invert']);
    expect(acceptedArtifacts('edit').sort()).toEqual(['edit', 'invert', 'sample']);
    expect(acceptedArtifacts('reconstruct')).toEqual([]);
    for (const job of JOB_KINDS) {
      for (const kind of acceptedArtifacts(job)) expect(NOISE_KINDS).toContain(kind);
    }
  });

  it('knows the strength each artifact was inverted to', () => {
    expect(artifactStrength({ kind: 'invert' })).toBe(1);
    expect(artifactStrength({ kind: 'edit', strength: 0.4 })).toBe(0.4);
    expect(artifactStrength({ kind: 'sample' })).toBeUndefined();
  });
});
