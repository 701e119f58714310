import type { Hardware, JobMetrics } from '@obelm/core';
import { sameHardware } from '../hardware.ts';
import type { RunInput } from './runner.ts';

/**
 * Whether the noise inputs were made on this run's hardware. A mismatch does not stop the job, it is said in
 * its metrics: eps then differs in the last bits, and what starts from the artifact is no longer bitwise the
 * trajectory that made it (by how much, `noiseEpsDrift` measures: measure.ts). Empty when no noise input records
 * its provenance (nothing to compare).
 */
export function noiseHardwareMetrics(
  inputs: readonly RunInput[],
  hardware: Hardware,
): Pick<JobMetrics, 'hardwareMatch' | 'noiseHardware'> {
  const made = inputs.flatMap((input) =>
    input.type === 'noise' && input.artifact.meta.provenance ? [input.artifact.meta.provenance] : [],
  );
  if (made.length === 0) return {};
  const other = made.find((h) => !sameHardware(h, hardware));
  return other ? { hardwareMatch: false, noiseHardware: other } : { hardwareMatch: true };
}

/**
 * Which exactness quantities a run measured, so that report.json never states exactness it did not measure: a
 * round trip (reconstruct; a sample from an inversion's noise in its own field, measure.ts) and the eps drift of
 * noise made on other hardware.
 */
export const measuredExactness = (metrics: JobMetrics): string[] =>
  (['latentMaxAbsError', 'pixelMse', 'noiseEpsDrift'] as const).filter((key) => metrics[key] !== undefined);
