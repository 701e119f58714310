/**
 * A minimal float64 safetensors codec that keeps to the rules of the reference implementation
 * (huggingface/safetensors, `SafeTensors::read_metadata` and `Metadata::validate` in safetensors/src/tensor.rs,
 * and the format notes in its README), so that Python's `safetensors` and numpy alone read what we write:
 *
 *   - 8 bytes: N, the header length, an unsigned little-endian 64-bit integer; the reference refuses
 *     N > 100,000,000 and we refuse N > 1 MiB (ours are a few kilobytes).
 *   - N bytes: a UTF-8 JSON object that starts with `{`, may be padded at the end with spaces (0x20), and maps
 *     each tensor name to `{dtype, shape, data_offsets: [begin, end]}`; the optional `__metadata__` key maps
 *     strings to strings. The writer pads N to a multiple of 8, as the official writer does, so that the data
 *     (and every F64 tensor in it) starts 8-byte aligned.
 *   - the rest: the byte buffer, little-endian, C order. Offsets are relative to its start; sorted by offset,
 *     the tensors must tile it exactly: the first begins at 0, each begins where the previous ends (no holes,
 *     no overlaps), end - begin = product(shape) x dtype size, and the last ends at the end of the file.
 *
 * Writing keeps the caller's tensor order (the reference sorts by name; readers sort by offset, so either works).
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

/** Headers above this are refused before parsing (and never written). */
const maxHeaderBytes = 1024 * 1024;
const metadataKey = '__metadata__';
/** The reference implementation's dtype names: a file may hold any of them, we read F64 only. */
const knownDtypes = new Set([
  'BOOL',
  'F4',
  'F6_E2M3',
  'F6_E3M2',
  'U8',
  'I8',
  'F8_E5M2',
  'F8_E4M3',
  'F8_E8M0',
  'I16',
  'U16',
  'F16',
  'BF16',
  'I32',
  'U32',
  'F32',
  'C64',
  'F64',
  'I64',
  'U64',
]);
const bytesPerValue = 8;

export function writeSafetensors(
  tensors: ReadonlyArray<readonly [string, F64Tensor]>,
  metadata: Readonly<Record<string, string>>,
): Uint8Array {
  if (!Object.values(metadata).every((v) => typeof v === 'string'))
    throw new NoiseFileError('noise_invalid_metadata', `${metadataKey} must map strings to strings`);
  // No prototype: a tensor named like an Object.prototype member ('__proto__', 'toString') is just a key.
  const header: Record<string, unknown> = Object.assign(Object.create(null), { [metadataKey]: metadata });
  let offset = 0;
  for (const [name, tensor] of tensors) {
    if (Object.hasOwn(header, name))
      throw new NoiseFileError('noise_invalid_header', `tensor name '${name}' is duplicate or reserved`);
    const count = tensor.shape.reduce((a, b) => a * b, 1);
    if (count !== tensor.data.length) {
      throw new NoiseFileError(
        'noise_wrong_shape',
        `tensor '${name}' has ${tensor.data.length} values but shape [${tensor.shape}]`,
      );
    }
    const end = offset + count * bytesPerValue;
    header[name] = { dtype: 'F64', shape: tensor.shape, data_offsets: [offset, end] };
    offset = end;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const headerLength = Math.ceil(json.length / 8) * 8; // space-padded, so the data starts 8-byte aligned
  if (headerLength > maxHeaderBytes)
    throw new NoiseFileError('noise_invalid_header', `header of ${headerLength} bytes is too large`);

  const dataStart = 8 + headerLength;
  const out = new Uint8Array(dataStart + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerLength), true);
  out.fill(0x20, 8, dataStart);
  out.set(json, 8);
  let position = dataStart;
  for (const [, tensor] of tensors) {
    // Aligned (dataStart and every tensor size are multiples of 8) and little-endian like every Node platform.
    new Float64Array(out.buffer, position, tensor.data.length).set(tensor.data);
    position += tensor.data.byteLength;
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

  let metadata: Record<string, string> = {};
  const entries: Entry[] = [];
  for (const [name, value] of Object.entries(header)) {
    if (name === metadataKey) metadata = parseMetadata(value);
    else entries.push(parseEntry(name, value));
  }
  checkLayout(entries, bytes.length - dataStart);

  const tensors = new Map<string, F64Tensor>();
  for (const { name, shape, begin, end } of entries) {
    const start = bytes.byteOffset + dataStart + begin;
    const count = (end - begin) / bytesPerValue;
    let data: Float64Array;
    if (start % bytesPerValue === 0) {
      data = new Float64Array(bytes.buffer, start, count).slice();
    } else {
      // An unpadded header (allowed, if not written by us) leaves the data unaligned: read value by value.
      data = new Float64Array(count);
      for (let i = 0; i < count; i++) data[i] = view.getFloat64(dataStart + begin + i * 8, true);
    }
    tensors.set(name, { shape, data });
  }
  return { tensors, metadata };
}

interface Entry {
  readonly name: string;
  readonly shape: number[];
  readonly begin: number;
  readonly end: number;
}

/**
 * The reference's layout rules: sorted by (begin, end), the ranges tile the byte buffer from 0 to its end with
 * no hole and no overlap, and each range holds exactly its shape's values.
 */
function checkLayout(entries: Entry[], dataLength: number): void {
  entries.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let covered = 0;
  for (const { name, shape, begin, end } of entries) {
    if (begin !== covered) {
      throw new NoiseFileError(
        'noise_invalid_header',
        `tensor '${name}' starts at byte ${begin} of the data, not at ${covered}: ` +
          (begin > covered ? 'a hole' : 'an overlap'),
      );
    }
    const count = shape.reduce((a, b) => a * b, 1);
    if (end - begin !== count * bytesPerValue) {
      throw new NoiseFileError(
        'noise_wrong_shape',
        `tensor '${name}' spans ${end - begin} bytes but shape [${shape}] needs ${count * bytesPerValue}`,
      );
    }
    if (end > dataLength)
      throw new NoiseFileError('noise_truncated', `noise file ends inside tensor '${name}'`);
    covered = end;
  }
  if (covered !== dataLength) {
    throw new NoiseFileError(
      'noise_invalid_header',
      `the last ${dataLength - covered} bytes of the noise file belong to no tensor`,
    );
  }
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
  if (bytes[0] !== 0x7b)
    // the format requires the very first byte to be '{' (trailing spaces only)
    throw new NoiseFileError('noise_invalid_header', "noise file header does not start with '{'");
  return header;
}

function parseMetadata(value: unknown): Record<string, string> {
  if (value === null) return {}; // the reference reads `null` as no metadata
  if (!isRecord(value) || !Object.values(value).every((v) => typeof v === 'string')) {
    throw new NoiseFileError('noise_invalid_header', `${metadataKey} must map strings to strings`);
  }
  return value as Record<string, string>;
}

function parseEntry(name: string, value: unknown): Entry {
  const isIndex = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;
  if (
    !isRecord(value) ||
    typeof value.dtype !== 'string' ||
    !Array.isArray(value.shape) ||
    !value.shape.every(isIndex) ||
    !Array.isArray(value.data_offsets) ||
    value.data_offsets.length !== 2 ||
    !value.data_offsets.every(isIndex) ||
    (value.data_offsets[0] as number) > (value.data_offsets[1] as number) ||
    !knownDtypes.has(value.dtype)
  ) {
    throw new NoiseFileError('noise_invalid_header', `tensor '${name}' has a malformed header entry`);
  }
  if (value.dtype !== 'F64') {
    throw new NoiseFileError(
      'noise_wrong_dtype',
      `tensor '${name}' has dtype ${value.dtype}; noise files are F64`,
    );
  }
  const shape = value.shape as number[];
  if (!Number.isSafeInteger(shape.reduce((a, b) => a * b, bytesPerValue)))
    throw new NoiseFileError('noise_invalid_header', `tensor '${name}' has an impossibly large shape`);
  return { name, shape, begin: value.data_offsets[0] as number, end: value.data_offsets[1] as number };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
