/**
 * A minimal float64 safetensors codec: an 8-byte little-endian header length, a JSON header
 * `{name: {dtype, shape, data_offsets: [begin, end]}, __metadata__: {string: string}}` padded with spaces
 * to a multiple of 8 bytes, then the raw little-endian tensor data (offsets relative to the end of the header).
 * Readable by Python's `safetensors` and by numpy alone.
 */
import { NoiseFileError } from './errors.ts';

export interface F64Tensor {
  readonly shape: readonly number[];
  readonly data: Float64Array;
}

export interface SafetensorsFile {
  readonly tensors: ReadonlyMap<string, F64Tensor>;
  readonly metadata: Readonly<Record<string, string>>;
}

/** Headers above this are refused before parsing: ours are a few kilobytes. */
const maxHeaderBytes = 1024 * 1024;

export function writeSafetensors(
  tensors: ReadonlyArray<readonly [string, F64Tensor]>,
  metadata: Readonly<Record<string, string>>,
): Uint8Array {
  const header: Record<string, unknown> = { __metadata__: metadata };
  let offset = 0;
  for (const [name, tensor] of tensors) {
    const end = offset + tensor.data.length * 8;
    header[name] = { dtype: 'F64', shape: tensor.shape, data_offsets: [offset, end] };
    offset = end;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (Buffer.byteLength(json) % 8)) % 8);
  const headerBytes = new TextEncoder().encode(json);

  const out = new Uint8Array(8 + headerBytes.length + offset);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(headerBytes.length), true);
  out.set(headerBytes, 8);
  let position = 8 + headerBytes.length;
  for (const [, tensor] of tensors) {
    for (const value of tensor.data) {
      view.setFloat64(position, value, true);
      position += 8;
    }
  }
  return out;
}

export function readSafetensors(bytes: Uint8Array): SafetensorsFile {
  if (bytes.length < 8)
    throw new NoiseFileError('noise_truncated', 'noise file is shorter than its 8-byte header length');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = view.getBigUint64(0, true);
  if (headerLength > BigInt(maxHeaderBytes)) {
    throw new NoiseFileError(
      'noise_invalid_header',
      `noise file header length ${headerLength} is implausibly large`,
    );
  }
  const dataStart = 8 + Number(headerLength);
  if (dataStart > bytes.length) {
    throw new NoiseFileError('noise_truncated', 'noise file ends inside its JSON header');
  }
  const header = parseHeader(bytes.subarray(8, dataStart));
  const dataLength = bytes.length - dataStart;

  const tensors = new Map<string, F64Tensor>();
  let metadata: Record<string, string> = {};
  for (const [name, entry] of Object.entries(header)) {
    if (name === '__metadata__') {
      metadata = parseMetadata(entry);
      continue;
    }
    const { dtype, shape, begin, end } = parseEntry(name, entry);
    if (dtype !== 'F64') {
      throw new NoiseFileError(
        'noise_wrong_dtype',
        `tensor '${name}' has dtype ${dtype}; noise files are F64`,
      );
    }
    const count = shape.reduce((a, b) => a * b, 1);
    if (end - begin !== count * 8) {
      throw new NoiseFileError(
        'noise_wrong_shape',
        `tensor '${name}' spans ${end - begin} bytes but shape [${shape}] needs ${count * 8}`,
      );
    }
    if (end > dataLength) {
      throw new NoiseFileError('noise_truncated', `noise file ends inside tensor '${name}'`);
    }
    const data = new Float64Array(count);
    for (let i = 0; i < count; i++) data[i] = view.getFloat64(dataStart + begin + i * 8, true);
    tensors.set(name, { shape, data });
  }
  return { tensors, metadata };
}

function parseHeader(bytes: Uint8Array): Record<string, unknown> {
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch {
    throw new NoiseFileError('noise_invalid_header', 'noise file header is not valid UTF-8 JSON');
  }
  if (!isRecord(header))
    throw new NoiseFileError('noise_invalid_header', 'noise file header is not a JSON object');
  return header;
}

function parseMetadata(entry: unknown): Record<string, string> {
  if (!isRecord(entry) || !Object.values(entry).every((v) => typeof v === 'string')) {
    throw new NoiseFileError('noise_invalid_header', '__metadata__ must map strings to strings');
  }
  return entry as Record<string, string>;
}

function parseEntry(name: string, entry: unknown) {
  const isIndex = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;
  if (
    !isRecord(entry) ||
    typeof entry.dtype !== 'string' ||
    !Array.isArray(entry.shape) ||
    !entry.shape.every(isIndex) ||
    !Array.isArray(entry.data_offsets) ||
    entry.data_offsets.length !== 2 ||
    !entry.data_offsets.every(isIndex) ||
    (entry.data_offsets[0] as number) > (entry.data_offsets[1] as number)
  ) {
    throw new NoiseFileError('noise_invalid_header', `tensor '${name}' has a malformed header entry`);
  }
  return {
    dtype: entry.dtype,
    shape: entry.shape as number[],
    begin: entry.data_offsets[0] as number,
    end: entry.data_offsets[1] as number,
  };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
