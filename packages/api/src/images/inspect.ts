import { ApiError, badRequest, type ImageFormat, MAX_IMAGE_PIXELS } from '@obelm/core';
import { endFault, IMAGE_END_BYTES, ImageFaultError, type ImageHeader, readImageHeader } from './header.ts';

/** Bytes [start, end) of an image. */
export type ReadRange = (start: number, end: number) => Promise<Uint8Array>;

/** The first read of an upload: a JPEG's header segments (EXIF, ICC) almost always fit; more is read if not. */
export const HEAD_BYTES = 64 * 1024;

/**
 * Checks an image of `length` bytes, read through `read`: its header (format, dimensions, the structure in
 * the first `headBytes`), its end, and its pixel count, against the service's limit and the tenant plan's
 * `planMaxPixels` when lower. Returns the header, or throws 400 `invalid_image` with `{field, reason}` or 413
 * `image_too_large` with `{field, maxPixels, width, height}` (and `limit: 'plan'` when the plan's limit refused it).
 */
export async function inspectImage(
  field: string,
  length: number,
  read: ReadRange,
  headBytes = HEAD_BYTES,
  planMaxPixels = MAX_IMAGE_PIXELS,
): Promise<ImageHeader> {
  try {
    let head = await read(0, Math.min(length, headBytes));
    let header = readImageHeader(head, length);
    while (!header) {
      const more = await read(head.length, Math.min(length, head.length * 4));
      // Nothing more to read: the object is shorter than its HEAD said (replaced meanwhile); never loop on it.
      if (more.length === 0) throw new ImageFaultError('truncated', `the image ends at byte ${head.length}`);
      head = Buffer.concat([head, more]);
      header = readImageHeader(head, length);
    }
    const byPlan = planMaxPixels < MAX_IMAGE_PIXELS;
    const maxPixels = byPlan ? planMaxPixels : MAX_IMAGE_PIXELS;
    if (header.width * header.height > maxPixels) {
      throw new ApiError(
        413,
        'image_too_large',
        `${field} is ${header.width}x${header.height} pixels; the ${byPlan ? "plan's " : ''}limit is ${maxPixels}`,
        {
          field,
          ...(byPlan ? { limit: 'plan' } : {}),
          maxPixels,
          width: header.width,
          height: header.height,
        },
      );
    }
    const tail = head.length === length ? head : await read(Math.max(0, length - IMAGE_END_BYTES), length);
    const wrongEnd = endFault(header.format, tail);
    if (wrongEnd) throw wrongEnd;
    return header;
  } catch (err) {
    if (err instanceof ImageFaultError) throw invalidImage(field, err.reason, err.message);
    throw err;
  }
}

export const invalidImage = (field: string, reason: string, message: string, extra: object = {}) =>
  badRequest('invalid_image', `${field}: ${message}`, { field, reason, ...extra });

/** The format an image must have for the Content-Type it was declared with. */
export const formatMismatch = (field: string, format: ImageFormat, contentType: string) =>
  invalidImage(field, 'format_mismatch', `the upload was declared ${contentType} but is a ${format}`, {
    contentType,
    format,
  });
