/**
 * The safetensors rules of the reference implementation (huggingface/safetensors: tensor.rs read_metadata /
 * validate, README "Format"), one test per rule: what the writer must produce and what the reader must refuse.
 */
import { describe, expect, it } from 'vitest';
import { NoiseFileError, readSafetensors, writeSafetensors } from '../src/noise/index.ts';

const encoder = new TextEncoder();

/** A raw file: u64 LE header length, the header bytes exactly as given, then `data`. */
function rawFile(
  header: string | Uint8Array,
  data: Float64Array | Uint8Array = new Uint8Array(),
): Uint8Array {
  const headerBytes = typeof header === 'string' ? encoder.encode(header) : header;
  const dataBytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  const out = new Uint8Array(8 + headerBytes.length + dataBytes.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerBytes.length), true);
  out.set(headerBytes, 8);
  out.set(dataBytes, 8 + headerBytes.length);
  return out;
}

const f64 = (shape: number[], begin: number, end: number) => ({
  dtype: 'F64',
  shape,
  data_offsets: [begin, end],
});
const header = (tensors: Record<string, unknown>) => JSON.stringify(tensors);

function codeOf(bytes: Uint8Array): string {
  try {
    readSafetensors(bytes);
  } catch (error) {
    expect(error).toBeInstanceOf(NoiseFileError);
    return (error as NoiseFileError).code;
  }
  return 'accepted';
}

function headerOf(file: Uint8Array): { length: number; text: string } {
  const length = Number(new DataView(file.buffer, file.byteOffset).getBigUint64(0, true));
  return { length, text: new TextDecoder().decode(file.subarray(8, 8 + length)) };
}

const values = Float64Array.of(1, -2.5, Number.NaN, -0, 5e-324, Number.POSITIVE_INFINITY);

describe('safetensors writer', () => {
  it('pads the header with spaces to a multiple of 8 for every JSON length, so F64 data is 8-byte aligned', () => {
    for (let pad = 0; pad < 16; pad++) {
      const file = writeSafetensors([['x', { shape: [2, 3], data: values }]], { note: 'a'.repeat(pad) });
      const { length, text } = headerOf(file);
      expect(length % 8).toBe(0);
      expect(text.startsWith('{')).toBe(true);
      const json = text.trimEnd();
      expect(length - json.length).toBeLessThan(8);
      expect(text.slice(json.length)).toBe(' '.repeat(length - json.length));
      expect(file.length).toBe(8 + length + values.byteLength);
    }
  });

  it('writes the bytes the reference writer writes: compact JSON, __metadata__ first, little-endian data', () => {
    const file = writeSafetensors([['x', { shape: [2], data: Float64Array.of(1, -2) }]], { k: 'v' });
    const json = '{"__metadata__":{"k":"v"},"x":{"dtype":"F64","shape":[2],"data_offsets":[0,16]}}';
    const padded = json.padEnd(Math.ceil(json.length / 8) * 8, ' ');
    const expected = rawFile(padded, Uint8Array.of(0, 0, 0, 0, 0, 0, 0xf0, 0x3f, 0, 0, 0, 0, 0, 0, 0, 0xc0));
    expect(Buffer.from(file).equals(Buffer.from(expected))).toBe(true);
  });

  it('lays the tensors out back to back from offset 0 to the end of the file', () => {
    const file = writeSafetensors(
      [
        ['upper', { shape: [2, 3], data: values }],
        ['lower', { shape: [3], data: values.subarray(0, 3) }],
        ['scalar', { shape: [], data: Float64Array.of(7) }],
      ],
      {},
    );
    const { length, text } = headerOf(file);
    const parsed = JSON.parse(text);
    expect(parsed.upper.data_offsets).toEqual([0, 48]);
    expect(parsed.lower.data_offsets).toEqual([48, 72]);
    expect(parsed.scalar).toEqual(f64([], 72, 80));
    expect(file.length - 8 - length).toBe(80);
    const back = readSafetensors(file);
    expect(Array.from(back.tensors.get('upper')!.data)).toEqual(Array.from(values));
    expect(back.tensors.get('scalar')!.data[0]).toBe(7);
  });

  it('refuses names that would collide in the JSON object, non-string metadata and oversized headers', () => {
    const t = { shape: [1], data: Float64Array.of(1) };
    const refusal = (fn: () => unknown) => {
      try {
        fn();
      } catch (error) {
        return (error as NoiseFileError).code;
      }
      return 'written';
    };
    expect(
      refusal(() =>
        writeSafetensors(
          [
            ['a', t],
            ['a', t],
          ],
          {},
        ),
      ),
    ).toBe('noise_invalid_header');
    expect(refusal(() => writeSafetensors([['__metadata__', t]], {}))).toBe('noise_invalid_header');
    expect(refusal(() => writeSafetensors([['toString', t]], {}))).toBe('written');
    expect(refusal(() => writeSafetensors([], { n: 1 as unknown as string }))).toBe('noise_invalid_metadata');
    expect(refusal(() => writeSafetensors([], { big: 'x'.repeat(2 ** 20) }))).toBe('noise_invalid_header');
  });
});

describe('safetensors reader accepts what the format allows', () => {
  it('an unpadded header (unaligned data), even in a buffer at an odd byte offset', () => {
    const file = rawFile(header({ x: f64([6], 0, 48) }), values);
    expect(headerOf(file).length % 8).not.toBe(0);
    const shifted = new Uint8Array(file.length + 3);
    shifted.set(file, 3);
    for (const bytes of [file, shifted.subarray(3)]) {
      expect(Array.from(readSafetensors(bytes).tensors.get('x')!.data)).toEqual(Array.from(values));
    }
  });

  it('tensors listed in any key order, empty and 0-rank tensors, no or null __metadata__', () => {
    const data = Float64Array.of(1, 2, 3);
    const file = rawFile(
      header({ b: f64([2], 8, 24), empty: f64([0, 4], 0, 0), a: f64([], 0, 8), __metadata__: null }),
      data,
    );
    const { tensors, metadata } = readSafetensors(file);
    expect(metadata).toEqual({});
    expect(Array.from(tensors.get('a')!.data)).toEqual([1]);
    expect(Array.from(tensors.get('b')!.data)).toEqual([2, 3]);
    expect(tensors.get('empty')).toEqual({ shape: [0, 4], data: new Float64Array() });
    expect(readSafetensors(rawFile('{}')).tensors.size).toBe(0);
  });
});

describe('safetensors reader refuses', () => {
  const two = Float64Array.of(1, 2);

  it('a hole, an overlap, a first tensor not at 0, or bytes after the last tensor', () => {
    expect(codeOf(rawFile(header({ a: f64([1], 0, 8), b: f64([1], 16, 24) }), new Float64Array(3)))).toBe(
      'noise_invalid_header',
    );
    expect(codeOf(rawFile(header({ a: f64([2], 0, 16), b: f64([1], 8, 16) }), two))).toBe(
      'noise_invalid_header',
    );
    expect(codeOf(rawFile(header({ a: f64([1], 8, 16) }), two))).toBe('noise_invalid_header');
    expect(codeOf(rawFile(header({ a: f64([1], 0, 8) }), two))).toBe('noise_invalid_header');
    expect(codeOf(rawFile(header({ a: f64([1], 0, 8), b: f64([1], 8, 16) }), two))).toBe('accepted');
  });

  it('offsets that disagree with the shape, run past the file, or are reversed, fractional or negative', () => {
    expect(codeOf(rawFile(header({ a: f64([3], 0, 16) }), two))).toBe('noise_wrong_shape');
    expect(codeOf(rawFile(header({ a: f64([3], 0, 24) }), two))).toBe('noise_truncated');
    expect(codeOf(rawFile(header({ a: f64([0], 16, 0) }), two))).toBe('noise_invalid_header');
    expect(codeOf(rawFile(header({ a: f64([2], 0, 16.5) }), two))).toBe('noise_invalid_header');
    expect(codeOf(rawFile(header({ a: f64([2], -8, 8) }), two))).toBe('noise_invalid_header');
    expect(codeOf(rawFile(header({ a: f64([2 ** 40, 2 ** 40], 0, 16) }), two))).toBe('noise_invalid_header');
  });

  it('dtypes that are not safetensors names, and real dtypes other than F64', () => {
    const entry = (dtype: string) => header({ a: { dtype, shape: [4], data_offsets: [0, 16] } });
    expect(codeOf(rawFile(entry('float64'), two))).toBe('noise_invalid_header');
    expect(codeOf(rawFile(entry('F32'), two))).toBe('noise_wrong_dtype');
  });

  it('a header that does not start with {, is not UTF-8 JSON, or has non-string metadata', () => {
    expect(codeOf(rawFile(` ${header({ a: f64([2], 0, 16) })}`, two))).toBe('noise_invalid_header');
    expect(codeOf(rawFile(`${header({ a: f64([2], 0, 16) })}  `, two))).toBe('accepted');
    expect(codeOf(rawFile(Uint8Array.of(0x7b, 0xff, 0x7d), two))).toBe('noise_invalid_header');
    expect(codeOf(rawFile('[]'))).toBe('noise_invalid_header');
    expect(codeOf(rawFile(header({ __metadata__: { n: 1 } })))).toBe('noise_invalid_header');
    expect(codeOf(rawFile(header({ __metadata__: ['a'] })))).toBe('noise_invalid_header');
  });

  it('a header length that is too large or runs past the file, and a file under 8 bytes', () => {
    const file = rawFile('{}');
    const view = new DataView(file.buffer);
    view.setBigUint64(0, 2n ** 20n + 8n, true);
    expect(codeOf(file)).toBe('noise_invalid_header');
    view.setBigUint64(0, 16n, true);
    expect(codeOf(file)).toBe('noise_truncated');
    expect(codeOf(file.subarray(0, 7))).toBe('noise_truncated');
  });
});
