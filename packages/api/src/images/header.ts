import type { ImageFormat } from '@obelm/core';

/**
 * Reads an image's format and dimensions from its first bytes, and checks the structure it can see on the
 * way (PNG chunks, JPEG segments, the WebP RIFF size), so a bomb, a truncated file or junk after a valid
 * header is refused before it is stored. Pure: the caller reads the bytes (all of an inline image, ranges of
 * an upload).
 *
 * Written here rather than taken from npm: `image-size` (the common choice) resynchronises over garbage in
 * a JPEG, knows only three of its SOF markers, and throws the same error for "corrupt" and "the header lies
 * past the bytes you gave me", which a ranged read of an upload must tell apart; the structural checks need
 * this walk anyway, and the dimensions fall out of it.
 */

export interface ImageHeader {
  format: ImageFormat;
  width: number;
  height: number;
}

/** Why an image was refused (`details.reason` of 400 `invalid_image`). */
export type ImageFault = 'empty' | 'unsupported_format' | 'corrupt' | 'truncated' | 'trailing_data';

export class ImageFaultError extends Error {
  override readonly name = 'ImageFaultError';
  constructor(
    readonly reason: ImageFault,
    message: string,
  ) {
    super(message);
  }
}

const fault = (reason: ImageFault, message: string) => new ImageFaultError(reason, message);

const startsWith = (bytes: Uint8Array, signature: readonly number[], at = 0) =>
  signature.every((b, i) => bytes[at + i] === b);
const ascii = (bytes: Uint8Array, at: number, length: number) =>
  String.fromCharCode(...bytes.subarray(at, at + length));
const u16be = (b: Uint8Array, at: number) => (b[at]! << 8) | b[at + 1]!;
const u16le = (b: Uint8Array, at: number) => b[at]! | (b[at + 1]! << 8);
const u24le = (b: Uint8Array, at: number) => b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16);
const u32be = (b: Uint8Array, at: number) => b[at]! * 0x1000000 + ((b[at + 1]! << 16) | u16be(b, at + 2));
const u32le = (b: Uint8Array, at: number) => u24le(b, at) + b[at + 3]! * 0x1000000;

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
/** The IEND chunk, whole: length 0, type, CRC. Every PNG ends with exactly these 12 bytes. */
const PNG_END = [0, 0, 0, 0, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82];
const JPEG_SOI = [0xff, 0xd8, 0xff];
const JPEG_EOI = [0xff, 0xd9];

/** How many of an image's last bytes `endFault` needs. */
export const IMAGE_END_BYTES = PNG_END.length;

/**
 * The header of an image of `length` bytes whose first bytes are `head`; undefined when the header lies past
 * `head` (read more; only when `head` is not the whole image). Throws ImageFaultError for anything else.
 */
export function readImageHeader(head: Uint8Array, length: number): ImageHeader | undefined {
  if (length === 0) throw fault('empty', 'the image is empty');
  if (startsWith(head, PNG_SIGNATURE)) return readPng(head, length);
  if (startsWith(head, JPEG_SOI)) return readJpeg(head, length);
  if (ascii(head, 0, 4) === 'RIFF' && ascii(head, 8, 4) === 'WEBP') return readWebp(head, length);
  if (head.length < Math.min(length, 12)) return undefined;
  throw fault('unsupported_format', 'not a PNG, JPEG or WebP image');
}

/**
 * What is wrong with the end of an image, given its last bytes: a PNG ends with its IEND chunk, a JPEG with
 * its EOI marker (a WebP's end is checked against its RIFF size by readImageHeader). Anything else was cut
 * short, or has data appended after the image.
 */
export function endFault(format: ImageFormat, tail: Uint8Array): ImageFaultError | undefined {
  const end = format === 'png' ? PNG_END : format === 'jpeg' ? JPEG_EOI : [];
  if (startsWith(tail, end, tail.length - end.length)) return undefined;
  return fault(
    'truncated',
    `the ${format.toUpperCase()} does not end with its ${format === 'png' ? 'IEND chunk' : 'EOI marker'}: it is cut short or has data after its end`,
  );
}

/** Past the bytes we have: read more, or (the whole image was given) it is cut short. */
const beyond = (head: Uint8Array, length: number, what: string): undefined => {
  if (head.length < length) return undefined;
  throw fault('truncated', `the image ends inside its ${what}`);
};

/**
 * PNG: the signature, IHDR first, then every chunk within `head`: a plausible length and a type of four
 * letters. When `head` reaches IEND it must end the file.
 */
function readPng(head: Uint8Array, length: number): ImageHeader | undefined {
  if (head.length < 24) return beyond(head, length, 'header');
  if (u32be(head, 8) !== 13 || ascii(head, 12, 4) !== 'IHDR') throw fault('corrupt', 'PNG without IHDR');
  const width = u32be(head, 16);
  const height = u32be(head, 20);
  if (width === 0 || height === 0 || width > 0x7fffffff || height > 0x7fffffff) {
    throw fault('corrupt', `PNG declares ${width}x${height} pixels`);
  }
  let at = 8;
  let sawData = false;
  while (at + 8 <= head.length) {
    const size = u32be(head, at);
    const type = ascii(head, at + 4, 4);
    if (size > 0x7fffffff || !/^[A-Za-z]{4}$/.test(type))
      throw fault('corrupt', `bad PNG chunk at byte ${at}`);
    const next = at + 12 + size;
    if (next > length) throw fault('truncated', `the PNG ends inside its ${type} chunk`);
    if (type === 'IDAT') sawData = true;
    if (type === 'IEND') {
      if (!sawData) throw fault('corrupt', 'PNG without image data');
      if (next !== length) throw fault('trailing_data', `${length - next} bytes after the PNG's IEND chunk`);
      return { format: 'png', width, height };
    }
    at = next;
  }
  if (head.length === length) throw fault('truncated', 'the PNG ends before its IEND chunk');
  return { format: 'png', width, height };
}

/** SOFn markers: C0-CF but DHT (C4), JPG (C8) and DAC (CC). */
const isStartOfFrame = (marker: number) =>
  marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;

/** JPEG: segment by segment from SOI to the first SOFn, which holds the dimensions. */
function readJpeg(head: Uint8Array, length: number): ImageHeader | undefined {
  let at = 2;
  for (;;) {
    if (at + 4 > head.length) return beyond(head, length, 'header');
    if (head[at] !== 0xff) throw fault('corrupt', `no JPEG marker at byte ${at}`);
    const marker = head[at + 1]!;
    if (marker === 0xff) {
      at += 1; // fill byte
      continue;
    }
    if (marker === 0xd9 || marker === 0xda || marker === 0xd8 || marker === 0x00) {
      throw fault('corrupt', `JPEG marker ${marker.toString(16)} before its frame header`);
    }
    if ((marker >= 0xd0 && marker <= 0xd7) || marker === 0x01) {
      at += 2; // markers without a length
      continue;
    }
    const size = u16be(head, at + 2);
    if (size < 2) throw fault('corrupt', `bad JPEG segment length at byte ${at}`);
    if (at + 2 + size > length) throw fault('truncated', 'the JPEG ends inside its header');
    if (isStartOfFrame(marker)) {
      if (at + 9 > head.length) return beyond(head, length, 'frame header');
      const height = u16be(head, at + 5);
      const width = u16be(head, at + 7);
      if (width === 0 || height === 0) throw fault('corrupt', `JPEG declares ${width}x${height} pixels`);
      return { format: 'jpeg', width, height };
    }
    at += 2 + size;
  }
}

/**
 * WebP: the RIFF size must account for exactly the file, and the first chunk is a lossy (VP8), lossless
 * (VP8L) or extended (VP8X) header with its signature.
 */
function readWebp(head: Uint8Array, length: number): ImageHeader | undefined {
  if (head.length < 30) return beyond(head, length, 'header');
  const riffEnd = u32le(head, 4) + 8;
  if (riffEnd > length)
    throw fault('truncated', `the WebP is ${length} bytes; its RIFF header says ${riffEnd}`);
  if (riffEnd < length) throw fault('trailing_data', `${length - riffEnd} bytes after the WebP's RIFF data`);
  const chunk = ascii(head, 12, 4);
  if (20 + u32le(head, 16) > length) throw fault('truncated', `the WebP ends inside its ${chunk} chunk`);
  let width = 0;
  let height = 0;
  if (chunk === 'VP8X') {
    width = 1 + u24le(head, 24);
    height = 1 + u24le(head, 27);
  } else if (chunk === 'VP8L' && head[20] === 0x2f) {
    width = 1 + (((head[22]! & 0x3f) << 8) | head[21]!);
    height = 1 + (((head[24]! & 0x0f) << 10) | (head[23]! << 2) | ((head[22]! & 0xc0) >> 6));
  } else if (chunk === 'VP8 ' && startsWith(head, [0x9d, 0x01, 0x2a], 23)) {
    width = u16le(head, 26) & 0x3fff;
    height = u16le(head, 28) & 0x3fff;
  } else {
    throw fault('corrupt', `WebP without a valid VP8, VP8L or VP8X header (first chunk '${chunk}')`);
  }
  if (width === 0 || height === 0) throw fault('corrupt', `WebP declares ${width}x${height} pixels`);
  return { format: 'webp', width, height };
}
