import { deflateSync } from 'node:zlib';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { decodeImage, encodeImage, ImageError } from '../src/image/index.ts';

/** A seeded 3x8x8... RGB byte image, as a float tensor exactly on the 1/127.5 grid. */
function randomPixels(height: number, width: number, seed = 7) {
  let state = seed;
  const data = new Float64Array(3 * height * width);
  for (let i = 0; i < data.length; i++) {
    state = (state * 1103515245 + 12345) >>> 0;
    data[i] = (state >>> 24) / 127.5 - 1;
  }
  return { data, shape: [1, 3, height, width] };
}

const crcTable = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) c = crcTable[(c ^ b) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
function pngChunk(type: string, body: Uint8Array): Buffer {
  const typed = Buffer.concat([Buffer.from(type, 'ascii'), body]);
  const out = Buffer.alloc(12 + body.length);
  out.writeUInt32BE(body.length, 0);
  typed.copy(out, 4);
  out.writeUInt32BE(crc32(typed), 8 + body.length);
  return out;
}
/** A valid-looking PNG whose header claims width x height but carries almost no data: a decompression bomb. */
function bombPng(width: number, height: number): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 2, 0, 0, 0], 8); // 8-bit RGB, deflate, no filter, no interlace
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    pngChunk('IHDR', ihdr),
    pngChunk('IDAT', deflateSync(Buffer.alloc(1024))),
    pngChunk('IEND', new Uint8Array()),
  ]);
}

async function expectImageError(promise: Promise<unknown>, code: string) {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ImageError);
  expect((error as ImageError).code).toBe(code);
}

describe('image codecs', () => {
  it('round-trips PNG and lossless WebP exactly', async () => {
    const pixels = randomPixels(24, 32);
    for (const format of ['png', 'webp'] as const) {
      const bytes = await encodeImage(pixels, format);
      const decoded = await decodeImage(bytes, { size: [24, 32] });
      expect(decoded.shape).toEqual([1, 3, 24, 32]);
      expect(Array.from(decoded.data)).toEqual(Array.from(pixels.data));
    }
  });

  it('decodes JPEG close to the source', async () => {
    const flat = { data: new Float64Array(3 * 16 * 16).fill(0.2), shape: [1, 3, 16, 16] };
    const decoded = await decodeImage(await encodeImage(flat, 'jpeg', { quality: 95 }), { size: [16, 16] });
    for (const v of decoded.data) expect(Math.abs(v - 0.2)).toBeLessThan(0.03);
  });

  it('rounds and clamps on encode', async () => {
    const data = new Float64Array(3 * 4).fill(5);
    data[0] = -7;
    data[1] = Number.NaN;
    const bytes = await encodeImage({ data, shape: [1, 3, 2, 2] }, 'png');
    const raw = await sharp(bytes).raw().toBuffer();
    expect(raw[0]).toBe(0); // pixel 0, red: clamped from -7
    expect(raw[3]).toBe(0); // pixel 1, red: NaN
    expect(raw[1]).toBe(255); // pixel 0, green: clamped from 5
  });

  it('centre-crops and resizes to the bundle size', async () => {
    // 40 wide x 20 high: red strips at the sides, blue in the middle; the cover-crop to a square cuts the red.
    const width = 40;
    const height = 20;
    const rgb = Buffer.alloc(width * height * 3);
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const blue = x >= 4 && x < 36;
        rgb.set(blue ? [0, 0, 255] : [255, 0, 0], (y * width + x) * 3);
      }
    }
    const png = await sharp(rgb, { raw: { width, height, channels: 3 } })
      .png()
      .toBuffer();
    const decoded = await decodeImage(png, { size: [10, 10] });
    expect(decoded.shape).toEqual([1, 3, 10, 10]);
    const plane = 100;
    for (let p = 0; p < plane; p++) {
      expect(decoded.data[p]).toBeLessThan(-0.95); // red channel
      expect(decoded.data[2 * plane + p]).toBeGreaterThan(0.95); // blue channel
    }
  });

  it('drops alpha and expands grey to RGB', async () => {
    const grey = await sharp(Buffer.alloc(4 * 4 * 2, 200), { raw: { width: 4, height: 4, channels: 2 } })
      .png()
      .toBuffer();
    const decoded = await decodeImage(grey, { size: [4, 4] });
    expect(decoded.data.length).toBe(48);
    for (const v of decoded.data) expect(v).toBe(200 / 127.5 - 1);
  });

  it('refuses bytes that are not an image, corrupt images, bombs and oversize inputs', async () => {
    await expectImageError(
      decodeImage(new TextEncoder().encode('hello, world'), { size: [8, 8] }),
      'invalid_image',
    );
    const png = await encodeImage(randomPixels(32, 32), 'png');
    await expectImageError(decodeImage(png.subarray(0, png.length / 2), { size: [8, 8] }), 'invalid_image');
    await expectImageError(decodeImage(bombPng(100_000, 100_000), { size: [8, 8] }), 'image_too_large');
    await expectImageError(
      decodeImage(png, { size: [8, 8], limits: { maxBytes: 100, maxPixels: 1e6 } }),
      'image_too_large',
    );
    await expectImageError(
      decodeImage(png, { size: [8, 8], limits: { maxBytes: 1e6, maxPixels: 32 * 31 } }),
      'image_too_large',
    );
  });

  it('refuses formats other than PNG, JPEG and WebP', async () => {
    const gif = await sharp(Buffer.alloc(8 * 8 * 3), { raw: { width: 8, height: 8, channels: 3 } })
      .gif()
      .toBuffer();
    await expectImageError(decodeImage(gif, { size: [8, 8] }), 'unsupported_format');
    const svg = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="8" height="8"/>');
    await expectImageError(decodeImage(svg, { size: [8, 8] }), 'unsupported_format');
  });

  it('refuses a malformed pixel tensor on encode', async () => {
    await expectImageError(
      encodeImage({ data: new Float64Array(8), shape: [1, 2, 2, 2] }, 'png'),
      'invalid_pixels',
    );
  });
});
