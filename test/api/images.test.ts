import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import { MAX_IMAGE_PIXELS, s3Keys } from '@obelm/core';
import { type LocalStack, startLocalStack } from '@obelm/local';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call } from './helpers.ts';

/**
 * Bad images are refused at the door (issue 12): before anything is stored, an inline image's header, its
 * structure and its end are checked, and an upload's object when a job names it (type, size, header, end).
 */

let stack: LocalStack;
let dataDir: string;

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'obelm-images-'));
  stack = await startLocalStack({ dataDir, port: 0, worker: false });
});
afterAll(async () => {
  await stack?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

/** Random pixels, so PNGs do not compress to nothing and a 256x256 one is past the first ranged read. */
const noise = (width: number, height: number) =>
  sharp(randomBytes(width * height * 3), { raw: { width, height, channels: 3 } });

/** The same PNG claiming other dimensions (IHDR and its CRC rewritten): a decompression bomb's header. */
function withDimensions(png: Buffer, width: number, height: number): Buffer {
  const out = Buffer.from(png);
  out.writeUInt32BE(width, 16);
  out.writeUInt32BE(height, 20);
  out.writeUInt32BE(crc32(out.subarray(12, 29)), 29);
  return out;
}

/** A JPEG whose frame header starts past the first 64 KiB: two large APP segments after SOI. */
function withLargeHeader(jpeg: Buffer): Buffer {
  const app = (marker: number) => {
    const segment = Buffer.alloc(2 + 2 + 60_000, 0x20);
    segment.writeUInt16BE(0xff00 | marker, 0);
    segment.writeUInt16BE(60_002, 2);
    return segment;
  };
  return Buffer.concat([jpeg.subarray(0, 2), app(0xec), app(0xed), jpeg.subarray(2)]);
}

const createJob = (body: unknown) => call(stack, 'POST', '/v1/jobs', { body });
const invert = (image: Buffer) => createJob({ kind: 'invert', image: { base64: image.toString('base64') } });

async function storedObjects(): Promise<number> {
  const { KeyCount } = await stack.deps.s3.send(
    new ListObjectsV2Command({ Bucket: stack.env['OBELM_BUCKET'], Prefix: 'jobs/' }),
  );
  return KeyCount ?? 0;
}

describe('inline images', () => {
  it('accepts PNG, JPEG and lossy, lossless and extended WebP as encoders write them', async () => {
    const image = noise(64, 48);
    const encoded = [
      await image.clone().png().toBuffer(),
      await image.clone().jpeg().toBuffer(),
      await image.clone().jpeg({ progressive: true }).toBuffer(),
      await image.clone().webp().toBuffer(),
      await image.clone().webp({ lossless: true }).toBuffer(),
      await image.clone().ensureAlpha(0.5).webp().toBuffer(),
    ];
    for (const [n, bytes] of encoded.entries()) {
      const res = await invert(bytes);
      expect(res.status, `image ${n}: ${JSON.stringify(res.body.error)}`).toBe(202);
    }
  });

  it('refuses a truncated image, junk after a valid header or after the end, and stores nothing', async () => {
    const png = await noise(64, 64).png().toBuffer();
    const jpeg = await noise(64, 64).jpeg().toBuffer();
    const webp = await noise(64, 64).webp().toBuffer();
    const before = await storedObjects();
    const cases: [string, Buffer, string][] = [
      ['PNG cut in half', png.subarray(0, png.length >> 1), 'truncated'],
      ['PNG without its IEND', png.subarray(0, png.length - 12), 'truncated'],
      ['PNG header then junk', Buffer.concat([png.subarray(0, 33), Buffer.alloc(500, 1)]), 'corrupt'],
      ['PNG with bytes after IEND', Buffer.concat([png, Buffer.from('tail')]), 'trailing_data'],
      ['JPEG cut in half', jpeg.subarray(0, jpeg.length >> 1), 'truncated'],
      ['JPEG header then junk', Buffer.concat([jpeg.subarray(0, 20), Buffer.alloc(300, 0x41)]), 'corrupt'],
      ['WebP cut short', webp.subarray(0, webp.length - 10), 'truncated'],
      ['WebP with bytes after it', Buffer.concat([webp, Buffer.alloc(4)]), 'trailing_data'],
      ['a GIF', Buffer.from('GIF89a\x01\x00\x01\x00\x00\x00\x00;'), 'unsupported_format'],
    ];
    for (const [name, bytes, reason] of cases) {
      const res = await invert(bytes);
      expect(res.status, name).toBe(400);
      expect(res.body.error, name).toMatchObject({
        code: 'invalid_image',
        details: { field: 'image', reason },
      });
    }
    expect(await storedObjects()).toBe(before);
  });

  it('refuses a decompression bomb by its header with 413, naming the pixel limit', async () => {
    const png = await noise(8, 8).png().toBuffer();
    const res = await createJob({
      kind: 'interpolate',
      images: [
        { base64: png.toString('base64') },
        { base64: withDimensions(png, 50_000, 50_000).toString('base64') },
      ],
    });
    expect(res.status).toBe(413);
    expect(res.body.error).toMatchObject({
      code: 'image_too_large',
      details: { field: 'images.1', maxPixels: MAX_IMAGE_PIXELS, width: 50_000, height: 50_000 },
    });
  });
});

describe('uploads', () => {
  /** An upload slot, with `body` put straight into its object (as a form that S3 accepted would). */
  async function uploaded(contentType: string, body: Buffer, storedAs = contentType): Promise<string> {
    const slot = await call(stack, 'POST', '/v1/uploads', { body: { contentType } });
    expect(slot.status).toBe(201);
    await stack.deps.s3.send(
      new PutObjectCommand({
        Bucket: stack.env['OBELM_BUCKET'],
        Key: s3Keys.upload('dev', slot.body.uploadId),
        Body: body,
        ContentType: storedAs,
      }),
    );
    return slot.body.uploadId;
  }
  const invertUpload = (uploadId: string) => createJob({ kind: 'invert', image: { uploadId } });

  it('accepts a sound upload, also one whose JPEG header is past the first ranged read', async () => {
    const png = await noise(256, 256).png().toBuffer();
    expect(png.length).toBeGreaterThan(64 * 1024);
    const jpeg = withLargeHeader(await noise(64, 64).jpeg().toBuffer());
    expect((await sharp(jpeg).metadata()).width).toBe(64);
    for (const [type, bytes] of [
      ['image/png', png],
      ['image/jpeg', jpeg],
    ] as const) {
      const res = await invertUpload(await uploaded(type, bytes));
      expect(res.status, `${type}: ${JSON.stringify(res.body.error)}`).toBe(202);
    }
  });

  it('refuses an empty object, another Content-Type, a format other than declared, a cut one and a bomb', async () => {
    const png = await noise(256, 256).png().toBuffer();
    const jpeg = await noise(16, 16).jpeg().toBuffer();
    const cases: [string, Promise<string>, number, Record<string, unknown>][] = [
      ['empty', uploaded('image/png', Buffer.alloc(0)), 400, { reason: 'empty' }],
      [
        'stored as text',
        uploaded('image/png', png, 'text/plain'),
        400,
        { reason: 'content_type', contentType: 'text/plain', expected: 'image/png' },
      ],
      [
        'stored as another image type',
        uploaded('image/png', png, 'image/webp'),
        400,
        { reason: 'content_type', contentType: 'image/webp' },
      ],
      [
        'a JPEG declared PNG',
        uploaded('image/png', jpeg),
        400,
        { reason: 'format_mismatch', format: 'jpeg', contentType: 'image/png' },
      ],
      [
        'cut short (its end is read)',
        uploaded('image/png', png.subarray(0, png.length - 100)),
        400,
        { reason: 'truncated' },
      ],
      [
        'junk after the header',
        uploaded('image/png', Buffer.concat([png.subarray(0, 33), Buffer.alloc(90_000, 1)])),
        400,
        { reason: 'corrupt' },
      ],
      [
        'a bomb',
        uploaded('image/png', withDimensions(png, 40_000, 40_000)),
        413,
        { maxPixels: MAX_IMAGE_PIXELS },
      ],
    ];
    for (const [name, slot, status, details] of cases) {
      const res = await invertUpload(await slot);
      expect(res.status, name).toBe(status);
      expect(res.body.error.details, name).toMatchObject({ field: 'image', ...details });
    }
  });
});
