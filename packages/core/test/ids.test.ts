import { describe, expect, it } from 'vitest';
import { newId } from '../src/ids.ts';
import { IdSchema } from '../src/jobs.ts';
import { S3_PREFIXES, s3Keys } from '../src/keys.ts';

const valid = (id: string) => IdSchema.safeParse(id).success;

describe('ids', () => {
  it('accepts 1-64 characters of A-Z a-z 0-9 _ - and nothing that could leave a key segment', () => {
    for (const id of ['a', 'job_01HV', 'A-z_09', 'x'.repeat(64), '-', '__']) expect(valid(id), id).toBe(true);
    for (const id of ['', 'x'.repeat(65), '..', 'a/b', 'a\\b', 'a.b', 'a b', 'a#b', 'a%2F', 'é', 'a\n']) {
      expect(valid(id), JSON.stringify(id)).toBe(false);
    }
  });

  it('mints ids the schema accepts, ordered by creation time', () => {
    const ids = [0, 1, 31, 32, Date.parse('2025-01-01'), Date.parse('2030-06-15')].map((t) =>
      newId('job', t),
    );
    for (const id of ids) expect(valid(id), id).toBe(true);
    expect([...ids].sort()).toEqual(ids);
    expect(newId('job')).not.toBe(newId('job'));
  });
});

describe('S3 keys from valid ids', () => {
  // Valid ids that look the most like path tricks: dots are refused, so these are the edge of what gets in.
  const ids = ['-', '_', '--', 'x'.repeat(64)];
  const keys = (a: string, b: string) => ({
    [S3_PREFIXES.uploads]: [s3Keys.upload(a, b)],
    [S3_PREFIXES.jobs]: [
      s3Keys.jobPrefix(a, b),
      s3Keys.jobInput(a, b, 0),
      s3Keys.jobImage(a, b, 'png'),
      s3Keys.jobImageN(a, b, 3, 'webp'),
      s3Keys.jobNoise(a, b),
      s3Keys.jobReport(a, b),
      s3Keys.jobErrorMap(a, b),
      s3Keys.jobCheckpoints(a, b),
      s3Keys.jobCheckpointStage(a, b, 1),
    ],
    [S3_PREFIXES.models]: [s3Keys.model(a)],
  });

  it("stay under their prefix, in their tenant's and id's own segments", () => {
    for (const a of ids) {
      for (const b of ids) {
        for (const [prefix, built] of Object.entries(keys(a, b))) {
          for (const key of built) {
            expect(key.startsWith(prefix), key).toBe(true);
            const segments = key.slice(prefix.length).split('/');
            expect(segments[0]).toBe(a);
            if (prefix !== S3_PREFIXES.models) expect(segments[1]).toBe(b);
            expect(segments.every((s) => s !== '.' && s !== '..')).toBe(true);
          }
        }
      }
    }
  });

  it('keep the job objects of two jobs apart, and of two tenants', () => {
    expect(s3Keys.jobImage('t', 'j1', 'png').startsWith(s3Keys.jobPrefix('t', 'j'))).toBe(false);
    expect(s3Keys.jobImage('t1', 'j', 'png').startsWith(s3Keys.jobPrefix('t', 'j'))).toBe(false);
    expect(s3Keys.jobImage('t', 'j', 'png').startsWith(s3Keys.jobPrefix('t', 'j'))).toBe(true);
  });
});
