import { NoiseFileError } from './errors.ts';
import type { NoiseMetadata } from './metadata.ts';

/** The fields a caller requires to match; omit the ones that may differ (e.g. `prompt` when editing). */
export type NoiseExpectation = Partial<NoiseMetadata>;

/** Checked in this order, so the error names the most fundamental mismatch first. */
const fieldOrder: ReadonlyArray<keyof NoiseMetadata> = [
  'bundleId',
  'latentShape',
  'imageSize',
  'schedule',
  'steps',
  'sampler',
  'firstInversionTimestep',
  'guidance',
  'negativePrompt',
  'prompt',
  'freezeIndex',
];

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
