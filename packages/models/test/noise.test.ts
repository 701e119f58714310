import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  checkCompatible,
  type NoiseArtifact,
  NoiseFileError,
  type NoiseMetadata,
  readNoiseArtifact,
  readSafetensors,
  writeNoiseArtifact,
  writeSafetensors,
} from '../src/noise/index.ts';

const latentShape = [1, 4, 8, 8];
const count = 256;

/** Values that stress bit-exactness: subnormals, signed zero, extremes, and irrational-looking doubles. */
function awkwardValues(seed: number): Float64Array {
  const data = new Float64Array(count);
  for (let i = 0; i < count; i++) data[i] = Math.sin(seed * 1000 + i) * 10 ** ((i % 11) - 5);
  data.set([-0, 5e-324, Number.MAX_VALUE, -Number.MIN_VALUE, 1 / 3], 0);
  return data;
}

const meta: NoiseMetadata = {
  bundleId: 'tiny-sd',
  schedule: {
    betaSchedule: 'scaled_linear',
    betaStart: 0.00085,
    betaEnd: 0.012,
    trainTimesteps: 1000,
    spacing: 'linspace',
    stepsOffset: 0,
    finalAbar: 'one',
  },
  steps: 20,
  sampler: { name: 'bdia', gamma: 0.96 },
  prompt: 'a photo of a cat, «ünïcode» 🐈',
  negativePrompt: '',
  guidance: 1.1,
  firstInversionTimestep: 1,
  freezeIndex: 0,
  imageSize: [64, 64],
  latentShape,
};

const pairArtifact: NoiseArtifact = {
  state: { kind: 'pair', index: 20, upper: awkwardValues(1), lower: awkwardValues(2) },
  meta,
};

function errorOf(fn: () => unknown): NoiseFileError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(NoiseFileError);
    return error as NoiseFileError;
  }
  throw new Error('expected a NoiseFileError');
}

function hex(data: Float64Array): string {
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('hex');
}

describe('noise artifacts', () => {
  it('round-trips every state kind bit-exactly with its metadata', () => {
    const states: NoiseArtifact['state'][] = [
      pairArtifact.state,
      { kind: 'single', index: 7, x: awkwardValues(3) },
      { kind: 'coupled', index: 0, x: awkwardValues(4), y: awkwardValues(5) },
    ];
    for (const state of states) {
      const back = readNoiseArtifact(writeNoiseArtifact({ state, meta }));
      expect(back.meta).toEqual(meta);
      expect(back.state.kind).toBe(state.kind);
      expect(back.state.index).toBe(state.index);
      for (const key of ['x', 'y', 'upper', 'lower'] as const) {
        const original = (state as Record<string, unknown>)[key] as Float64Array | undefined;
        if (original)
          expect(hex((back.state as Record<string, unknown>)[key] as Float64Array)).toBe(hex(original));
      }
    }
  });

  it('round-trips the provenance, and reads artifacts written before it was recorded', () => {
    const provenance = { provider: 'cuda', device: 'NVIDIA L4', onnxruntime: '1.30.0' };
    const withIt = readNoiseArtifact(writeNoiseArtifact({ ...pairArtifact, meta: { ...meta, provenance } }));
    expect(withIt.meta).toEqual({ ...meta, provenance });
    const old = readNoiseArtifact(writeNoiseArtifact(pairArtifact));
    expect(old.meta).toEqual(meta);
    expect('provenance' in old.meta).toBe(false);
  });

  it('round-trips the last eps and the origin bit-exactly, as format 2; without them a file stays format 1', () => {
    const lastEps = { at: 'lower', timestep: 951, eps: awkwardValues(6) } as const;
    const origin = awkwardValues(7);
    const bytes = writeNoiseArtifact({ ...pairArtifact, lastEps, origin });
    const back = readNoiseArtifact(bytes);
    expect(back.meta).toEqual(meta);
    expect(back.lastEps).toMatchObject({ at: 'lower', timestep: 951 });
    expect(hex(back.lastEps!.eps)).toBe(hex(lastEps.eps));
    expect(hex(back.origin!)).toBe(hex(origin));
    expect(readSafetensors(bytes).metadata.format_version).toBe('2');

    // Either alone; and a file without them is what format-1 readers read (checkpoints, older artifacts).
    expect(readNoiseArtifact(writeNoiseArtifact({ ...pairArtifact, origin })).lastEps).toBeUndefined();
    expect(readNoiseArtifact(writeNoiseArtifact({ ...pairArtifact, lastEps })).origin).toBeUndefined();
    const old = writeNoiseArtifact(pairArtifact);
    expect(readSafetensors(old).metadata.format_version).toBe('1');
    expect(Object.keys(readNoiseArtifact(old)).sort()).toEqual(['meta', 'state']);
  });

  it('refuses a last eps without its keys or at no array of the state, unknown tensors and newer formats', () => {
    const lastEps = { at: 'upper', timestep: 1, eps: awkwardValues(6) } as const;
    const { metadata, tensors } = readSafetensors(writeNoiseArtifact({ ...pairArtifact, lastEps }));
    const rewritten = (meta: Record<string, string | undefined>, extra: [string, Float64Array][] = []) =>
      readNoiseArtifact(
        writeSafetensors(
          [...tensors, ...extra.map(([name, data]) => [name, { shape: latentShape, data }] as const)],
          Object.fromEntries(
            Object.entries({ ...metadata, ...meta }).filter(([, v]) => v !== undefined),
          ) as Record<string, string>,
        ),
      );
    expect(errorOf(() => rewritten({ last_eps_timestep: undefined })).code).toBe('noise_invalid_metadata');
    expect(errorOf(() => rewritten({ last_eps_at: 'y' })).message).toContain("'y' is not an array of a pair");
    expect(errorOf(() => rewritten({ format_version: '3' })).message).toContain('version 3 is not supported');
    expect(errorOf(() => rewritten({}, [['scratch', awkwardValues(8)]])).code).toBe('noise_invalid_metadata');
    expect(
      errorOf(() => writeNoiseArtifact({ ...pairArtifact, lastEps: { ...lastEps, at: 'x' } })).code,
    ).toBe('noise_invalid_metadata');
    const short = { ...pairArtifact, origin: new Float64Array(3) };
    expect(errorOf(() => writeNoiseArtifact(short)).code).toBe('noise_wrong_shape');
  });

  it('refuses a partial provenance', () => {
    const { metadata, tensors } = readSafetensors(writeNoiseArtifact(pairArtifact));
    const partial = writeSafetensors([...tensors], { ...metadata, provider: 'cuda' });
    expect(errorOf(() => readNoiseArtifact(partial)).code).toBe('noise_invalid_metadata');
  });

  it('writes the same bytes for the same artifact, with an 8-byte aligned header', () => {
    const a = writeNoiseArtifact(pairArtifact);
    expect(Buffer.from(writeNoiseArtifact(pairArtifact)).equals(Buffer.from(a))).toBe(true);
    expect(Number(new DataView(a.buffer).getBigUint64(0, true)) % 8).toBe(0);
  });

  it('refuses a mismatch, naming the first differing field', () => {
    checkCompatible(meta, { bundleId: 'tiny-sd', steps: 20, schedule: meta.schedule, prompt: meta.prompt });
    const cases: Array<[Partial<NoiseMetadata>, string]> = [
      [{ steps: 50, guidance: 2 }, 'steps'],
      [{ schedule: { ...meta.schedule, spacing: 'leading' } }, 'schedule.spacing'],
      [{ sampler: { name: 'obelm' } }, 'sampler.name'],
      [{ sampler: { name: 'bdia', gamma: 1 } }, 'sampler.gamma'],
      [{ latentShape: [1, 4, 64, 64], bundleId: 'tiny-sd' }, 'latentShape'],
      [{ negativePrompt: 'blurry' }, 'negativePrompt'],
    ];
    for (const [expected, field] of cases) {
      const error = errorOf(() => checkCompatible(meta, expected));
      expect(error.code).toBe('noise_incompatible');
      expect(error.field).toBe(field);
      expect(error.message).toContain(field);
    }
  });

  it('refuses truncated files, bad headers, wrong dtypes and wrong shapes', () => {
    const bytes = writeNoiseArtifact(pairArtifact);
    expect(errorOf(() => readNoiseArtifact(bytes.subarray(0, 5))).code).toBe('noise_truncated');
    expect(errorOf(() => readNoiseArtifact(bytes.subarray(0, 40))).code).toBe('noise_truncated');
    expect(errorOf(() => readNoiseArtifact(bytes.subarray(0, bytes.length - 8))).code).toBe(
      'noise_truncated',
    );

    const garbage = new Uint8Array(24);
    new DataView(garbage.buffer).setBigUint64(0, 16n, true);
    garbage.set(new TextEncoder().encode('{not json!!!!!!'), 8);
    expect(errorOf(() => readNoiseArtifact(garbage)).code).toBe('noise_invalid_header');
    const huge = new Uint8Array(16);
    new DataView(huge.buffer).setBigUint64(0, 1n << 60n, true);
    expect(errorOf(() => readNoiseArtifact(huge)).code).toBe('noise_invalid_header');

    // Rewrite the header: claim F32, or a shape that disagrees with the metadata.
    const headerEnd = 8 + Number(new DataView(bytes.buffer).getBigUint64(0, true));
    const header = new TextDecoder().decode(bytes.subarray(8, headerEnd));
    const patched = (from: string, to: string) => {
      expect(to.length).toBe(from.length);
      expect(header).toContain(from);
      const out = Uint8Array.from(bytes);
      out.set(new TextEncoder().encode(header.replace(from, to)), 8);
      return out;
    };
    expect(errorOf(() => readNoiseArtifact(patched('"dtype":"F64"', '"dtype":"F32"'))).code).toBe(
      'noise_wrong_dtype',
    );
    const reshaped = patched('"shape":[1,4,8,8]', '"shape":[1,8,4,8]');
    expect(errorOf(() => readNoiseArtifact(reshaped)).code).toBe('noise_wrong_shape');
    expect(errorOf(() => readNoiseArtifact(patched('"state_kind":"pair"', '"state_kind":"sing"'))).code).toBe(
      'noise_invalid_metadata',
    );

    // A sampler parameter the sampler does not have (BDIA takes gamma only) is refused, not dropped.
    const extra = patched('\\"gamma\\"', '\\"gammo\\"');
    expect(errorOf(() => readNoiseArtifact(extra)).message).toContain("no parameter 'gammo'");

    // A well-formed safetensors file that is not ours, and one whose state has a tensor missing.
    const foreign = writeSafetensors([['x', { shape: [2], data: Float64Array.of(1, 2) }]], {});
    expect(errorOf(() => readNoiseArtifact(foreign)).code).toBe('noise_invalid_metadata');
    const missing = patched('"state_kind":"pair"', '"state_kind":"cpld"');
    expect(errorOf(() => readNoiseArtifact(missing)).code).toBe('noise_invalid_metadata');

    expect(
      errorOf(() =>
        writeNoiseArtifact({ ...pairArtifact, state: { kind: 'single', index: 0, x: new Float64Array(3) } }),
      ).code,
    ).toBe('noise_wrong_shape');
  });

  const numpy = spawnSync('python3', ['-c', 'import numpy'], { encoding: 'utf8' }).status === 0;
  const safetensors = spawnSync('python3', ['-c', 'import safetensors'], { encoding: 'utf8' }).status === 0;

  // biome-ignore lint/plugin/noSilentSkip: numpy is an optional outside reader; CI images without python3 skip it
  it.skipIf(!numpy)('is read bit-exactly by numpy alone (python3 with numpy)', () => {
    const path = join(mkdtempSync(join(tmpdir(), 'obelm-noise-')), 'noise.safetensors');
    writeFileSync(path, writeNoiseArtifact(pairArtifact));
    const script = `
import json, struct, sys, numpy as np
raw = open(sys.argv[1], 'rb').read()
(n,) = struct.unpack('<Q', raw[:8])
header = json.loads(raw[8:8 + n])
out = {'meta': header['__metadata__']}
for name, info in header.items():
    if name == '__metadata__': continue
    b, e = info['data_offsets']
    arr = np.frombuffer(raw[8 + n + b:8 + n + e], dtype='<f8').reshape(info['shape'])
    out[name] = {'shape': list(arr.shape), 'hex': arr.tobytes().hex()}
print(json.dumps(out))
`;
    const run = spawnSync('python3', ['-c', script, path], { encoding: 'utf8' });
    expect(run.stderr).toBe('');
    const parsed = JSON.parse(run.stdout);
    expect(parsed.upper).toEqual({
      shape: latentShape,
      hex: hex(pairArtifact.state.kind === 'pair' ? pairArtifact.state.upper : new Float64Array()),
    });
    expect(parsed.lower.hex).toBe(hex(awkwardValues(2)));
    expect(parsed.meta.prompt).toBe(meta.prompt);
    expect(JSON.parse(parsed.meta.schedule)).toEqual(meta.schedule);
  });

  // biome-ignore lint/plugin/noSilentSkip: Python safetensors is not installed here; the numpy test reads the same bytes
  it.skipIf(!safetensors)('is read by Python safetensors (not installed here: skipped)', () => {
    const path = join(mkdtempSync(join(tmpdir(), 'obelm-noise-')), 'noise.safetensors');
    writeFileSync(path, writeNoiseArtifact(pairArtifact));
    const script = `
import sys
from safetensors.numpy import load_file
t = load_file(sys.argv[1])
print(t['upper'].tobytes().hex())
`;
    const run = spawnSync('python3', ['-c', script, path], { encoding: 'utf8' });
    expect(run.stdout.trim()).toBe(hex(awkwardValues(1)));
  });
});
