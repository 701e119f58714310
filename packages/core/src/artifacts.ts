import type { JobKind } from './jobs.ts';

/**
 * Noise-artifact rules: which job's artifact can start which job, what it fixes and what it implies.
 * One pure table; the API's validation, the worker's pipeline choice and the models package's compatibility
 * check all read it (docs/math.md §4 for why a state only inverts exactly on the grid it was made on).
 *
 * Where an artifact sits on the grid decides what it can start:
 * - an `invert` job stores (x_N, x_{N-1}) and an `edit` job its partial inversion (x_{N-f}, x_{N-f-1}): both at the
 *   noisy end, to sample (or finish an edit) from;
 * - a `sample` job stores its final pair (x_1, x_0) at the clean end: inverting from it retraces that job's
 *   trajectory exactly, back to its starting noise (and an edit may start its partial inversion there).
 */

/** Job kinds whose jobs leave a noise artifact. */
export const NOISE_KINDS = ['invert', 'edit', 'sample'] as const satisfies readonly JobKind[];
export type NoiseKind = (typeof NOISE_KINDS)[number];

export const isNoiseKind = (kind: JobKind): kind is NoiseKind =>
  (NOISE_KINDS as readonly string[]).includes(kind);

/** The end of the grid an artifact of `kind` sits at. */
export const artifactEnd = (kind: NoiseKind): 'noisy' | 'clean' => (kind === 'sample' ? 'clean' : 'noisy');

/** Request settings an artifact can fix or imply (`sourcePrompt` of an edit maps to the artifact's `prompt`). */
export type ArtifactSetting =
  | 'model'
  | 'steps'
  | 'sampler'
  | 'strength'
  | 'prompt'
  | 'sourcePrompt'
  | 'guidance'
  | 'negativePrompt';

/** Metadata fields of a noise file (packages/models NoiseMetadata) that must equal the run's. */
export type ArtifactField =
  | 'bundleId'
  | 'latentShape'
  | 'imageSize'
  | 'schedule'
  | 'steps'
  | 'sampler'
  | 'firstInversionTimestep'
  | 'guidance'
  | 'negativePrompt'
  | 'prompt';

/** The grid a state lives on: a state from another model, schedule, step count or sampler decodes to garbage. */
export const GRID_FIELDS = [
  'bundleId',
  'latentShape',
  'imageSize',
  'schedule',
  'steps',
  'sampler',
  'firstInversionTimestep',
] as const satisfies readonly ArtifactField[];

/** The field a trajectory was sampled in: retracing it exactly needs the same eps at every step. */
export const TRAJECTORY_FIELDS = [
  'guidance',
  'negativePrompt',
  'prompt',
] as const satisfies readonly ArtifactField[];

/** How a job of one kind uses an artifact of another. */
export interface ArtifactRule {
  readonly job: JobKind;
  readonly artifact: NoiseKind;
  /**
   * What the run does with the stored state: `resample` runs only the sampling half from it (noisy end),
   * `retrace` inverts from the kept pair (clean end), `endpoint` uses it as one end of an interpolation.
   */
  readonly start: 'resample' | 'retrace' | 'endpoint';
  /** Settings the artifact fixes: an explicit different value in the request is refused (`incompatible_noise`). */
  readonly fixes: readonly ArtifactSetting[];
  /** Settings taken from the artifact when the request omits them (a superset of `fixes`). */
  readonly inherits: readonly ArtifactSetting[];
  /** Metadata fields of the noise file the worker checks against the run before using the state. */
  readonly matches: readonly ArtifactField[];
}

const GRID_SETTINGS = ['model', 'steps', 'sampler'] as const satisfies readonly ArtifactSetting[];

const RULES: readonly ArtifactRule[] = [
  // Sampling from an inversion (full, or an edit's partial one) runs the sampling half on its grid.
  ...(['invert', 'edit'] as const).map(
    (artifact): ArtifactRule => ({
      job: 'sample',
      artifact,
      start: 'resample',
      fixes: GRID_SETTINGS,
      inherits: GRID_SETTINGS,
      matches: GRID_FIELDS,
    }),
  ),
  // Many edits per inversion: the artifact was inverted to its strength, which the edit must keep.
  ...(['invert', 'edit'] as const).map(
    (artifact): ArtifactRule => ({
      job: 'edit',
      artifact,
      start: 'resample',
      fixes: [...GRID_SETTINGS, 'strength'],
      inherits: [...GRID_SETTINGS, 'strength'],
      matches: GRID_FIELDS,
    }),
  ),
  // A generated image's kept pair: the edit's partial inversion starts on the trajectory that made it. Its
  // source prompt, guidance and negative prompt default to that trajectory's (another value is allowed, at the
  // cost of exactness); the strength is the edit's own.
  {
    job: 'edit',
    artifact: 'sample',
    start: 'retrace',
    fixes: GRID_SETTINGS,
    inherits: [...GRID_SETTINGS, 'sourcePrompt', 'guidance', 'negativePrompt'],
    matches: GRID_FIELDS,
  },
  // Inverting a generated image from its kept pair is exact only in the same field (docs/math.md §4).
  {
    job: 'invert',
    artifact: 'sample',
    start: 'retrace',
    fixes: [...GRID_SETTINGS, 'prompt', 'guidance', 'negativePrompt'],
    inherits: [...GRID_SETTINGS, 'prompt', 'guidance', 'negativePrompt'],
    matches: [...GRID_FIELDS, ...TRAJECTORY_FIELDS],
  },
  // Slerp between two full inversions: both ends on one grid.
  {
    job: 'interpolate',
    artifact: 'invert',
    start: 'endpoint',
    fixes: GRID_SETTINGS,
    inherits: GRID_SETTINGS,
    matches: GRID_FIELDS,
  },
];

/** How a job of kind `job` uses an artifact of kind `artifact`, or undefined when it cannot start from it. */
export function artifactRule(job: JobKind, artifact: JobKind): ArtifactRule | undefined {
  return RULES.find((r) => r.job === job && r.artifact === artifact);
}

/** The artifact kinds a job of kind `job` can start from (empty: it takes no noise). */
export const acceptedArtifacts = (job: JobKind): NoiseKind[] =>
  RULES.filter((r) => r.job === job).map((r) => r.artifact);

/**
 * The strength an artifact at the noisy end was inverted to: an edit's own, 1 for a full inversion. An artifact at
 * the clean end (a sample's kept pair) fixes none.
 */
export function artifactStrength(params: { kind: JobKind; strength?: number }): number | undefined {
  if (params.kind === 'invert') return 1;
  if (params.kind === 'edit') return params.strength;
  return undefined;
}
