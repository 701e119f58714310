import { ApiError, MAX_INLINE_IMAGE_BYTES } from '@obelm/core';
import { inspectImage, invalidImage } from './inspect.ts';

/**
 * An inline image: at most MAX_INLINE_IMAGE_BYTES decoded (413 `image_too_large`, told from the base64
 * length before anything is decoded), strict base64 (the decoded bytes must re-encode to the input;
 * Buffer.from alone skips bad characters), and a sound PNG, JPEG or WebP (inspect.ts), every chunk or
 * segment of whose header is checked, since all of it is at hand. `maxPixels`: the tenant plan's (inspect.ts).
 */
export async function decodeInlineImage(
  base64: string,
  field: string,
  maxPixels: number,
): Promise<Uint8Array> {
  const text = base64.replace(/\s+/g, '');
  const padding = text.endsWith('==') ? 2 : text.endsWith('=') ? 1 : 0;
  const size = Math.floor((text.length * 3) / 4) - padding;
  if (size > MAX_INLINE_IMAGE_BYTES) {
    throw new ApiError(
      413,
      'image_too_large',
      `${field} is ${size} bytes; inline images may be ${MAX_INLINE_IMAGE_BYTES} (use POST /v1/uploads)`,
      { field, maxBytes: MAX_INLINE_IMAGE_BYTES },
    );
  }
  const padded = text.padEnd(Math.ceil(text.length / 4) * 4, '=');
  const bytes = Buffer.from(padded, 'base64');
  if (bytes.length === 0 || bytes.toString('base64') !== padded) {
    throw invalidImage(field, 'base64', `${field}.base64 is not valid base64`);
  }
  const read = async (start: number, end: number) => bytes.subarray(start, end);
  await inspectImage(field, bytes.length, read, bytes.length, maxPixels);
  return bytes;
}
