import { type ArtifactRule, GRID_FIELDS, TRAJECTORY_FIELDS } from '@obelm/core';
import { NoiseFileError } from './errors.ts';
import type { NoiseMetadata } from './metadata.ts';

/** The fields a caller requires to match; omit the ones that may differ (e.g. `prompt` when editing). */
export type NoiseExpectation = Partial<NoiseMetadata>;

/**
 * Checked in this order, so the error names the most fundamental mismatch first: the grid, then the field a
 * trajectory was sampled in (core artifacts.ts), then the freeze index.
 */
const fieldOrder: ReadonlyArray<keyof NoiseMetadata> = [...GRID_FIELDS, ...TRAJECTORY_FIELDS, 'freezeIndex'];

/**
 * Refuses a noise artifact made under different settings than the run it is offered to: a silently mismatched
 * pair decodes to a wrong image. Throws NoiseFileError('noise_incompatible') naming the first differing field.
 */
export function checkCompatible(meta: NoiseMetadata, expected: NoiseExpectation): void {
  for (const key of fieldOrder) {
    if (expected[key] === undefined) continue;
    const path = firstDifference(meta[key], expected[key], key);
    if (path !== undefined) {
      throw new NoiseFileError(
        'noise_incompatible',
        `noise artifact was made with ${path} = ${show(valueAt(meta, path))}, but this run uses ${show(valueAt(expected, path))}`,
        path,
      );
    }
  }
}

/**
 * Refuses a noise artifact that does not suit the run it starts, by its rule (core artifacts.ts): exactly the
 * metadata fields the rule says must match (the grid always; the trajectory's field where the run retraces it).
 */
export function checkArtifact(
  meta: NoiseMetadata,
  run: Omit<NoiseMetadata, 'freezeIndex'>,
  rule: Pick<ArtifactRule, 'matches'>,
): void {
  const expected: Record<string, unknown> = {};
  for (const field of rule.matches) expected[field] = run[field];
  checkCompatible(meta, expected as NoiseExpectation);
}

/** The dotted path of the first difference between two JSON-like values (arrays compare whole), or undefined. */
function firstDifference(actual: unknown, wanted: unknown, path: string): string | undefined {
  if (Array.isArray(actual) || Array.isArray(wanted)) {
    return JSON.stringify(actual) === JSON.stringify(wanted) ? undefined : path;
  }
  if (typeof actual === 'object' && actual !== null && typeof wanted === 'object' && wanted !== null) {
    const keys = new Set([...Object.keys(actual), ...Object.keys(wanted)]);
    for (const key of keys) {
      const inner = firstDifference(
        (actual as Record<string, unknown>)[key],
        (wanted as Record<string, unknown>)[key],
        `${path}.${key}`,
      );
      if (inner !== undefined) return inner;
    }
    return undefined;
  }
  return Object.is(actual, wanted) ? undefined : path;
}

function valueAt(root: unknown, path: string): unknown {
  return path.split('.').reduce<unknown>((v, k) => (v as Record<string, unknown> | undefined)?.[k], root);
}

function show(value: unknown): string {
  return value === undefined ? '(absent)' : JSON.stringify(value);
}
