import type { Hardware } from '@obelm/core';
import type { SamplerSpec, ScheduleConfig } from '@obelm/engine';

/**
 * Bumped when the layout of a noise artifact changes in a way old readers cannot follow. Adding optional metadata
 * keys (like the provenance below) is not such a change: readers ignore keys they do not know. Adding tensors is:
 * format-1 readers refuse any tensor besides the state's, so version 2 is the one with the optional `last_eps`
 * and `origin` tensors (artifact.ts), and a file without them is still written as version 1.
 */
export const noiseFormatVersion = 2;

/** The oldest version this reader reads; a file is written with the oldest version that reads it. */
export const firstNoiseFormatVersion = 1;

/**
 * Where eps was computed. Exactness is a property of the hardware: the same float64 state gives bitwise the
 * same eps only on the same provider, device model and onnxruntime build (docs/math.md §10), so an artifact
 * reused elsewhere round-trips to about 1e-6 instead of 1e-13. The shape is core's (job metrics show it too).
 */
export type NoiseProvenance = Hardware;

/**
 * Everything a noise artifact was made with. Resuming, reconstructing or editing from it is only exact under
 * the same bundle, schedule, steps, sampler, guidance and (for reconstruction) prompts.
 */
export interface NoiseMetadata {
  readonly bundleId: string;
  readonly schedule: ScheduleConfig;
  /** Number of inference steps N of the grid the state lives on. */
  readonly steps: number;
  readonly sampler: SamplerSpec;
  readonly prompt: string;
  readonly negativePrompt: string;
  readonly guidance: number;
  /** Model timestep of the clean-end inversion call (docs/math.md §2; official 1). */
  readonly firstInversionTimestep: number;
  /** Steps kept frozen by an edit (0 for a full inversion). The state's own grid index is in the state. */
  readonly freezeIndex: number;
  /** Image size in pixels [height, width]. */
  readonly imageSize: readonly [number, number];
  /** Shape of each state tensor, batch first, e.g. [1, 4, 64, 64]. */
  readonly latentShape: readonly number[];
  /** Absent in artifacts written before provenance was recorded. */
  readonly provenance?: NoiseProvenance;
}
