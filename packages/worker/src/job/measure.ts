import { TRAJECTORY_FIELDS } from '@obelm/core';
import { epsAt, maxAbsDifference } from '@obelm/engine';
import type { NoiseArtifact, NoiseMetadata } from '@obelm/models';
import { sameHardware } from '../hardware.ts';
import type { RunRequest } from './runner.ts';

/**
 * Exactness is a property of the hardware (docs/math.md §10): what a run measures of it, from what its noise inputs
 * keep (models artifact.ts), rather than assume it.
 */

/**
 * Max |eps_here - eps_maker| over the last eps of every noise input made on other hardware: this run's model
 * recomputes each at the same array, timestep and field (one model call per such input). Undefined when no input
 * was made elsewhere, or none that was kept its last eps; 0 where the two machines agree bitwise.
 */
export async function noiseEpsDrift(req: RunRequest): Promise<number | undefined> {
  let drift: number | undefined;
  for (const input of req.inputs) {
    if (input.type !== 'noise') continue;
    const { state, meta, lastEps } = input.artifact;
    if (!lastEps || !meta.provenance || sameHardware(meta.provenance, req.hardware)) continue;
    const here = await epsAt(req.model, {
      state,
      at: lastEps.at,
      timestep: lastEps.timestep,
      prompt: meta.prompt,
      negativePrompt: meta.negativePrompt,
      guidance: meta.guidance,
      signal: req.signal,
    });
    drift = Math.max(drift ?? 0, maxAbsDifference(here, lastEps.eps));
  }
  return drift;
}

/**
 * A reconstruction's round-trip error: max |x_0' - x_0| of the clean latent `latent` a run sampled from an
 * inversion's artifact against the x_0 that inversion started from. Only when the run sampled in the field the
 * inversion was made in (core TRAJECTORY_FIELDS), where it retraces that trajectory; undefined otherwise, or when
 * the artifact kept no x_0.
 */
export function roundTripError(
  artifact: NoiseArtifact,
  run: Pick<NoiseMetadata, (typeof TRAJECTORY_FIELDS)[number]>,
  latent: Float64Array,
): number | undefined {
  if (!artifact.origin) return undefined;
  if (!TRAJECTORY_FIELDS.every((field) => Object.is(artifact.meta[field], run[field]))) return undefined;
  return maxAbsDifference(latent, artifact.origin);
}
