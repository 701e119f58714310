import { crc32 } from 'node:zlib';
import { ApiError, MAX_IMAGE_PIXELS } from '@obelm/core';
import { describe, expect, it } from 'vitest';
import { endFault, type ImageFaultError, readImageHeader } from '../src/images/header.ts';
import { inspectImage } from '../src/images/inspect.ts';

/**
 * The header reader on hand-built files: each format's structure byte by byte, so every branch is named.
 * (test/api/images.test.ts sends real encoder output through the API.)
 */

const u32be = (n: number) => [(n >>> 24) & 255, (n >>> 16) & 255, (n >>> 8) & 255, n & 255];
const u32le = (n: number) => u32be(n).reverse();
const u16be = (n: number) => [(n >> 8) & 255, n & 255];
const ascii = (s: string) => [...s].map((c) => c.charCodeAt(0));
const bytes = (...parts: (number | ArrayLike<number>)[]) =>
  Uint8Array.from(parts.flatMap((p) => (typeof p === 'number' ? [p] : Array.from(p))));

const pngChunk = (type: string, data: number[] = []) => {
  const body = [...ascii(type), ...data];
  return [...u32be(data.length), ...body, ...u32be(crc32(Uint8Array.from(body)))];
};
const PNG_SIG = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
const ihdr = (width: number, height: number) =>
  pngChunk('IHDR', [...u32be(width), ...u32be(height), 8, 2, 0, 0, 0]);
const png = (width = 2, height = 3, ...extra: number[][]) =>
  bytes(PNG_SIG, ihdr(width, height), ...extra, pngChunk('IDAT', [1, 2, 3]), pngChunk('IEND'));

const segment = (marker: number, data: number[]) => [0xff, marker, ...u16be(data.length + 2), ...data];
const sof = (marker: number, width: number, height: number) =>
  segment(marker, [8, ...u16be(height), ...u16be(width), 1, 1, 0x11, 0]);
const jpeg = (...segments: number[][]) =>
  bytes(
    [0xff, 0xd8],
    segment(0xe0, ascii('JFIF\0')),
    ...segments,
    segment(0xda, [1, 1, 0, 0, 63, 0]),
    [7, 7],
    [0xff, 0xd9],
  );

const riff = (chunk: string, payload: number[]) => {
  const body = [...ascii('WEBP'), ...ascii(chunk), ...u32le(payload.length), ...payload];
  return bytes(ascii('RIFF'), u32le(body.length), body);
};
const vp8 = (width: number, height: number) =>
  riff('VP8 ', [0x10, 0, 0, 0x9d, 0x01, 0x2a, width & 255, width >> 8, height & 255, height >> 8, 0, 0]);
const vp8l = (width: number, height: number) => {
  const w = width - 1;
  const h = height - 1;
  return riff('VP8L', [
    0x2f,
    w & 255,
    ((w >> 8) & 0x3f) | ((h & 3) << 6),
    (h >> 2) & 255,
    (h >> 10) & 0x0f,
    ...new Array(8).fill(0),
  ]);
};
const vp8x = (width: number, height: number) => {
  const w = width - 1;
  const h = height - 1;
  return riff('VP8X', [0, 0, 0, 0, w & 255, (w >> 8) & 255, w >> 16, h & 255, (h >> 8) & 255, h >> 16]);
};

const whole = (image: Uint8Array) => readImageHeader(image, image.length);
const faultOf = (fn: () => unknown) => {
  try {
    fn();
  } catch (err) {
    return (err as ImageFaultError).reason;
  }
  return 'none';
};

describe('readImageHeader', () => {
  it('reads format and size of PNG, JPEG (any SOF) and the three WebP kinds', () => {
    expect(whole(png(640, 480))).toEqual({ format: 'png', width: 640, height: 480 });
    for (const marker of [0xc0, 0xc1, 0xc2, 0xc3, 0xc9, 0xcb, 0xcf]) {
      expect(whole(jpeg(segment(0xdb, [0, 1, 2]), sof(marker, 1024, 768)))).toEqual({
        format: 'jpeg',
        width: 1024,
        height: 768,
      });
    }
    expect(whole(vp8(300, 200))).toEqual({ format: 'webp', width: 300, height: 200 });
    expect(whole(vp8l(5000, 3001))).toEqual({ format: 'webp', width: 5000, height: 3001 });
    expect(whole(vp8x(16384, 9000))).toEqual({ format: 'webp', width: 16384, height: 9000 });
  });

  it('steps over JPEG fill bytes and markers without a length', () => {
    const image = jpeg([0xff], [0xff, 0xd0], sof(0xc0, 8, 9));
    expect(whole(image)).toMatchObject({ width: 8, height: 9 });
  });

  it('asks for more bytes when the header lies past the head of a longer image', () => {
    const padded = jpeg(segment(0xe1, new Array(70_000 - 4).fill(0).slice(0, 65_000)), sof(0xc0, 10, 20));
    expect(readImageHeader(padded.subarray(0, 1000), padded.length)).toBeUndefined();
    expect(readImageHeader(padded, padded.length)).toMatchObject({ width: 10, height: 20 });
    expect(readImageHeader(png().subarray(0, 10), 1000)).toBeUndefined();
    expect(readImageHeader(vp8(1, 1).subarray(0, 20), vp8(1, 1).length)).toBeUndefined();
    expect(readImageHeader(bytes([1, 2]), 100)).toBeUndefined();
  });

  it.each([
    ['empty', new Uint8Array(), 'empty'],
    ['a GIF', bytes(ascii('GIF89a'), [1, 0, 1, 0, 0, 0, 0]), 'unsupported_format'],
    ['text', bytes(ascii('hello world, not an image')), 'unsupported_format'],
    ['a PNG cut inside its header', png().subarray(0, 20), 'truncated'],
    ['a PNG cut inside a chunk', png().subarray(0, 40), 'truncated'],
    ['a PNG cut before IEND', png().subarray(0, png().length - 12), 'truncated'],
    ['a PNG with junk after IEND', bytes(png(), [1, 2, 3]), 'trailing_data'],
    [
      'a PNG with junk after a valid header',
      bytes(PNG_SIG, ihdr(4, 4), ascii('garbage!garbage!')),
      'corrupt',
    ],
    ['a PNG without IHDR', bytes(PNG_SIG, pngChunk('IDAT', [1]), pngChunk('IEND')), 'corrupt'],
    ['a PNG of 0 pixels', png(0, 5), 'corrupt'],
    ['a PNG without data', bytes(PNG_SIG, ihdr(1, 1), pngChunk('IEND')), 'corrupt'],
    [
      'a JPEG with junk after SOI',
      bytes([0xff, 0xd8, 0xff, 0xe0, 0, 4, 1, 2], ascii('junk junk')),
      'corrupt',
    ],
    ['a JPEG scan before its frame', jpeg(), 'corrupt'],
    ['a JPEG with a zero segment length', bytes([0xff, 0xd8], [0xff, 0xe0, 0, 1], [0, 0, 0, 0]), 'corrupt'],
    ['a JPEG cut inside its header', jpeg(sof(0xc0, 1, 1)).subarray(0, 8), 'truncated'],
    ['a JPEG of 0 pixels', jpeg(sof(0xc0, 0, 5)), 'corrupt'],
    ['a JPEG whose SOF is cut', bytes([0xff, 0xd8], [0xff, 0xc0, 0, 17, 8, 0]), 'truncated'],
    ['a WebP cut short', vp8(4, 4).subarray(0, 31), 'truncated'],
    ['a WebP with junk after it', bytes(vp8(4, 4), [0, 0]), 'trailing_data'],
    [
      'a WebP whose first chunk runs past its end',
      riff('VP8 ', [0x10, 0, 0, 0x9d, 0x01, 0x2a, 1, 0, 1, 0]).map((b, i) => (i === 16 ? 200 : b)),
      'truncated',
    ],
    ['a WebP with another first chunk', riff('ALPH', new Array(12).fill(0)), 'corrupt'],
    ['a lossy WebP without its start code', riff('VP8 ', new Array(12).fill(1)), 'corrupt'],
    ['a WebP of 0 pixels', vp8(0, 3), 'corrupt'],
  ])('refuses %s', (_name, image, reason) => {
    expect(faultOf(() => whole(image))).toBe(reason);
  });
});

describe('endFault', () => {
  it('wants IEND at the end of a PNG and EOI at the end of a JPEG', () => {
    expect(endFault('png', png())).toBeUndefined();
    expect(endFault('png', png().subarray(0, png().length - 1))?.reason).toBe('truncated');
    expect(endFault('jpeg', jpeg(sof(0xc0, 1, 1)))).toBeUndefined();
    expect(endFault('jpeg', bytes(jpeg(sof(0xc0, 1, 1)), [0]))?.message).toContain('EOI marker');
    expect(endFault('webp', vp8(1, 1))).toBeUndefined();
  });
});

describe('inspectImage', () => {
  const reader = (image: Uint8Array, reads: [number, number][] = []) => ({
    reads,
    read: async (start: number, end: number) => {
      reads.push([start, end]);
      return image.subarray(start, end);
    },
  });

  it('reads a head, more while the header lies past it, and the last bytes for the end', async () => {
    const image = jpeg(
      segment(0xe1, new Array(65_000).fill(0)),
      segment(0xe2, new Array(30_000).fill(0)),
      sof(0xc0, 7, 9),
    );
    const { read, reads } = reader(image);
    await expect(inspectImage('image', image.length, read, 1024)).resolves.toEqual({
      format: 'jpeg',
      width: 7,
      height: 9,
    });
    expect(reads).toEqual([
      [0, 1024],
      [1024, 4096],
      [4096, 16_384],
      [16_384, 65_536],
      [65_536, image.length],
    ]);
  });

  it('answers 400 invalid_image with the field and reason, 413 image_too_large over the pixel limit', async () => {
    const truncated = png().subarray(0, 30);
    const error = await inspectImage('images.1', truncated.length, reader(truncated).read).catch((e) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({
      status: 400,
      code: 'invalid_image',
      details: { field: 'images.1', reason: 'truncated' },
    });

    const bomb = png(100_000, 100_000);
    const large = await inspectImage('image', bomb.length, reader(bomb).read).catch((e) => e);
    expect(large).toMatchObject({
      status: 413,
      code: 'image_too_large',
      details: { field: 'image', maxPixels: MAX_IMAGE_PIXELS, width: 100_000, height: 100_000 },
    });

    const cutJpeg = jpeg(sof(0xc0, 4, 4)).subarray(0, 30);
    const bigHead = bytes(cutJpeg, new Array(100_000).fill(7));
    const end = await inspectImage('image', bigHead.length, reader(bigHead).read, 64).catch((e) => e);
    expect(end.details).toEqual({ field: 'image', reason: 'truncated' });
  });

  it('refuses an object shorter than its HEAD said (a read that returns nothing) rather than read forever', async () => {
    const image = jpeg(segment(0xe1, new Array(10_000).fill(0)), sof(0xc0, 7, 9));
    const shrunk = image.subarray(0, 2000);
    let calls = 0;
    const read = async (start: number, end: number) => {
      if (++calls > 20) throw new Error('read forever');
      return shrunk.subarray(start, end);
    };
    const error = await inspectImage('image', image.length, read, 1024).catch((e) => e);
    expect(error).toMatchObject({ code: 'invalid_image', details: { field: 'image', reason: 'truncated' } });
  });
});
