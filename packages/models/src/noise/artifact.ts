import {
  type LastEps,
  namedStateArrays,
  type SamplerSpec,
  type SamplerState,
  type ScheduleConfig,
  type StateTensor,
} from '@obelm/engine';
import { NoiseFileError } from './errors.ts';
import { firstNoiseFormatVersion, type NoiseMetadata, noiseFormatVersion } from './metadata.ts';
import { type F64Tensor, readSafetensors, writeSafetensors } from './safetensors.ts';

/** A sampler state plus the exact settings it was made with: the unit stored as `noise.safetensors`. */
export interface NoiseArtifact {
  readonly state: SamplerState;
  readonly meta: NoiseMetadata;
  /**
   * The eps of the maker's last model call, at an array of `state` (engine lastEps.ts): other hardware recomputes
   * it there to measure its own eps drift (docs/math.md §10). Absent where that call was elsewhere (DDIM, EDICT
   * sampling) and in artifacts from before it was kept.
   */
  readonly lastEps?: LastEps;
  /**
   * An inversion's (invert, edit) clean latent x_0: what sampling back from `state` in the same field gives, so a
   * reconstruction measures its round trip against it. Absent for a sample's artifact and in older ones.
   */
  readonly origin?: Float64Array;
}

/** Tensor names per state kind, in file order. */
const tensorNames = { single: ['x'], pair: ['upper', 'lower'], coupled: ['x', 'y'] } as const;
type StateKind = keyof typeof tensorNames;

/** The optional tensors after the state's, in file order; only format 2 and later hold them. */
const measureNames = ['last_eps', 'origin'] as const;

const formatName = 'obelm-noise';

export function writeNoiseArtifact({ state, meta, lastEps, origin }: NoiseArtifact): Uint8Array {
  const count = meta.latentShape.reduce((a, b) => a * b, 1);
  const measures: Array<readonly [string, Float64Array]> = [
    ...(lastEps ? [['last_eps', lastEps.eps] as const] : []),
    ...(origin ? [['origin', origin] as const] : []),
  ];
  if (lastEps && !namedStateArrays(state).some(([name]) => name === lastEps.at)) {
    throw invalid(`last eps is at '${lastEps.at}', which a ${state.kind} state does not hold`);
  }
  const tensors = [...namedStateArrays(state), ...measures].map(
    ([name, data]): readonly [string, F64Tensor] => {
      if (data.length !== count) {
        throw new NoiseFileError(
          'noise_wrong_shape',
          `state tensor '${name}' has ${data.length} values; latent shape [${meta.latentShape}] needs ${count}`,
        );
      }
      return [name, { shape: meta.latentShape, data }];
    },
  );
  const { name: sampler, ...samplerParams } = meta.sampler;
  // Every value is a string (safetensors metadata); numbers via String() round-trip float64 exactly.
  return writeSafetensors(tensors, {
    format: formatName,
    // The oldest version that reads the file: one without the optional tensors stays readable by format-1 readers
    // (which refuse tensors they do not know), checkpoints included.
    format_version: String(measures.length > 0 ? noiseFormatVersion : firstNoiseFormatVersion),
    bundle_id: meta.bundleId,
    schedule: JSON.stringify(meta.schedule),
    spacing: meta.schedule.spacing,
    steps: String(meta.steps),
    sampler,
    sampler_params: JSON.stringify(samplerParams),
    prompt: meta.prompt,
    negative_prompt: meta.negativePrompt,
    guidance: String(meta.guidance),
    first_inversion_timestep: String(meta.firstInversionTimestep),
    freeze_index: String(meta.freezeIndex),
    state_kind: state.kind,
    state_index: String(state.index),
    image_size: JSON.stringify(meta.imageSize),
    latent_shape: JSON.stringify(meta.latentShape),
    ...(meta.provenance
      ? {
          provider: meta.provenance.provider,
          device: meta.provenance.device,
          onnxruntime_version: meta.provenance.onnxruntime,
        }
      : {}),
    ...(lastEps ? { last_eps_at: lastEps.at, last_eps_timestep: String(lastEps.timestep) } : {}),
  });
}

/** Parses and validates a noise artifact; every defect is a NoiseFileError with a stable code. */
export function readNoiseArtifact(bytes: Uint8Array): NoiseArtifact {
  const { tensors, metadata } = readSafetensors(bytes);
  const field = (key: string): string => {
    const value = metadata[key];
    if (value === undefined) throw invalid(`metadata field '${key}' is missing`);
    return value;
  };
  if (field('format') !== formatName)
    throw invalid(`not an O-BELM noise artifact (format '${field('format')}')`);
  const version = integer(field('format_version'), 'format_version');
  if (version < firstNoiseFormatVersion || version > noiseFormatVersion) {
    throw invalid(
      `noise format version ${version} is not supported (this reader knows ${firstNoiseFormatVersion} to ${noiseFormatVersion})`,
    );
  }

  const schedule = json(field('schedule'), 'schedule') as ScheduleConfig;
  if (schedule.spacing !== field('spacing')) throw invalid('metadata spacing disagrees with the schedule');
  const latentShape = json(field('latent_shape'), 'latent_shape');
  if (!Array.isArray(latentShape) || !latentShape.every((d) => Number.isSafeInteger(d) && d > 0)) {
    throw invalid('latent_shape must be an array of positive integers');
  }
  const imageSize = json(field('image_size'), 'image_size');
  if (!Array.isArray(imageSize) || imageSize.length !== 2)
    throw invalid('image_size must be [height, width]');

  const meta: NoiseMetadata = {
    bundleId: field('bundle_id'),
    schedule,
    steps: integer(field('steps'), 'steps'),
    sampler: samplerSpec(field('sampler'), json(field('sampler_params'), 'sampler_params')),
    prompt: field('prompt'),
    negativePrompt: field('negative_prompt'),
    guidance: finite(field('guidance'), 'guidance'),
    firstInversionTimestep: integer(field('first_inversion_timestep'), 'first_inversion_timestep'),
    freezeIndex: integer(field('freeze_index'), 'freeze_index'),
    imageSize: imageSize as [number, number],
    latentShape,
    ...provenance(metadata),
  };
  const state = readState(
    field('state_kind'),
    integer(field('state_index'), 'state_index'),
    tensors,
    latentShape,
  );
  const origin = tensors.has('origin') ? shaped(tensors, 'origin', latentShape) : undefined;
  const lastEps = readLastEps(metadata, tensors, state, latentShape);
  return { state, meta, ...(lastEps ? { lastEps } : {}), ...(origin ? { origin } : {}) };
}

/** The optional last eps: its tensor and the two keys that say where it was evaluated, all or none. */
function readLastEps(
  metadata: Readonly<Record<string, string>>,
  tensors: ReadonlyMap<string, F64Tensor>,
  state: SamplerState,
  latentShape: readonly number[],
): LastEps | undefined {
  const { last_eps_at: at, last_eps_timestep: timestep } = metadata;
  const present = tensors.has('last_eps');
  if (!present && at === undefined && timestep === undefined) return undefined;
  if (!present || at === undefined || timestep === undefined) {
    throw invalid('the last eps needs the tensor last_eps with last_eps_at and last_eps_timestep together');
  }
  if (!(tensorNames[state.kind] as readonly string[]).includes(at)) {
    throw invalid(`last_eps_at '${at}' is not an array of a ${state.kind} state`);
  }
  return {
    at: at as StateTensor,
    timestep: finite(timestep, 'last_eps_timestep'),
    eps: shaped(tensors, 'last_eps', latentShape),
  };
}

/** The optional provenance keys: all three, or none (an artifact from before they were recorded). */
function provenance(metadata: Readonly<Record<string, string>>): Pick<NoiseMetadata, 'provenance'> {
  const { provider, device, onnxruntime_version: onnxruntime } = metadata;
  if (provider === undefined && device === undefined && onnxruntime === undefined) return {};
  if (provider === undefined || device === undefined || onnxruntime === undefined) {
    throw invalid('provenance needs provider, device and onnxruntime_version together');
  }
  return { provenance: { provider, device, onnxruntime } };
}

function readState(
  kind: string,
  index: number,
  tensors: ReadonlyMap<string, F64Tensor>,
  latentShape: readonly number[],
): SamplerState {
  if (!(kind in tensorNames)) throw invalid(`unknown state kind '${kind}'`);
  const names: readonly string[] = tensorNames[kind as StateKind];
  const optional: readonly string[] = measureNames;
  const present = [...tensors.keys()].filter((name) => !optional.includes(name)).sort();
  if (present.join() !== [...names].sort().join()) {
    throw invalid(`a '${kind}' state needs tensors [${names}], the file has [${present}]`);
  }
  const data = (name: string): Float64Array => shaped(tensors, name, latentShape);
  if (kind === 'pair') return { kind, index, upper: data('upper'), lower: data('lower') };
  if (kind === 'coupled') return { kind, index, x: data('x'), y: data('y') };
  return { kind: 'single', index, x: data('x') };
}

/** A tensor's data, refused unless it has the latent shape. */
function shaped(
  tensors: ReadonlyMap<string, F64Tensor>,
  name: string,
  latentShape: readonly number[],
): Float64Array {
  const tensor = tensors.get(name)!;
  if (tensor.shape.join() !== latentShape.join()) {
    throw new NoiseFileError(
      'noise_wrong_shape',
      `tensor '${name}' has shape [${tensor.shape}]; the metadata says [${latentShape}]`,
    );
  }
  return tensor.data;
}

/** The parameters each sampler takes; anything else in an artifact is refused, never silently dropped. */
const SAMPLER_PARAMETERS: Record<string, readonly string[]> = {
  ddim: [],
  obelm: [],
  bdia: ['gamma'],
  edict: ['p'],
};

function samplerSpec(name: string, params: unknown): SamplerSpec {
  const p = (params ?? {}) as Record<string, unknown>;
  const unknown = Object.keys(p).filter((key) => !(SAMPLER_PARAMETERS[name] ?? []).includes(key));
  if (unknown.length > 0) throw invalid(`sampler '${name}' has no parameter '${unknown[0]}'`);
  const parameter = (key: string): number => {
    if (typeof p[key] !== 'number' || !Number.isFinite(p[key]))
      throw invalid(`sampler '${name}' needs '${key}'`);
    return p[key];
  };
  switch (name) {
    case 'ddim':
    case 'obelm':
      return { name };
    case 'bdia':
      return { name, gamma: parameter('gamma') };
    case 'edict':
      return { name, p: parameter('p') };
    default:
      throw invalid(`unknown sampler '${name}'`);
  }
}

function json(text: string, key: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw invalid(`metadata field '${key}' is not valid JSON`);
  }
}

function finite(text: string, key: string): number {
  const value = Number(text);
  if (text.trim() === '' || !Number.isFinite(value)) throw invalid(`metadata field '${key}' is not a number`);
  return value;
}

function integer(text: string, key: string): number {
  const value = finite(text, key);
  if (!Number.isSafeInteger(value)) throw invalid(`metadata field '${key}' is not an integer`);
  return value;
}

function invalid(message: string): NoiseFileError {
  return new NoiseFileError('noise_invalid_metadata', message);
}
