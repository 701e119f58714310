import { IMAGE_FORMATS } from '@obelm/core';
import type { Tensor } from '@obelm/engine';
import sharp from 'sharp';
import { ImageError } from './errors.ts';
import { defaultImageLimits, type ImageLimits } from './limits.ts';

/** Input formats we accept; everything else sharp can read (SVG, TIFF, GIF, PDF...) is refused. */
const acceptedFormats = new Set<string>(IMAGE_FORMATS);

export interface DecodeOptions {
  /** Target size [height, width]: the image is resized to cover it and centre-cropped. */
  readonly size: readonly [number, number];
  readonly limits?: ImageLimits;
}

/**
 * Decodes a PNG/JPEG/WebP into a float64 NCHW tensor [1, 3, H, W] with values x/127.5 - 1 in [-1, 1].
 * EXIF orientation is applied, alpha is dropped, and the image is resized (cover) and centre-cropped to `size`.
 * An image already at `size` is not resampled, so PNG/lossless WebP pixels come back exactly.
 */
export async function decodeImage(bytes: Uint8Array, options: DecodeOptions): Promise<Tensor> {
  const limits = options.limits ?? defaultImageLimits;
  const [height, width] = options.size;
  if (bytes.byteLength > limits.maxBytes) {
    throw new ImageError(
      'image_too_large',
      `image is ${bytes.byteLength} bytes; the limit is ${limits.maxBytes} bytes`,
    );
  }
  const input = () => sharp(bytes, { limitInputPixels: limits.maxPixels, failOn: 'error', autoOrient: true });

  const format = await readFormat(input, limits);
  if (!acceptedFormats.has(format)) {
    throw new ImageError(
      'unsupported_format',
      `image format '${format}' is not accepted; use PNG, JPEG or WebP`,
    );
  }

  let raw: Buffer;
  try {
    raw = await input()
      .toColourspace('srgb')
      .removeAlpha()
      .resize(width, height, { fit: 'cover', position: 'centre' })
      .raw({ depth: 'uchar' })
      .toBuffer();
  } catch (error) {
    throw toImageError(error, limits);
  }
  return { data: interleavedToPlanar(raw, height, width), shape: [1, 3, height, width] };
}

async function readFormat(input: () => ReturnType<typeof sharp>, limits: ImageLimits): Promise<string> {
  try {
    const meta = await input().metadata();
    if ((meta.width ?? 0) * (meta.height ?? 0) > limits.maxPixels) {
      throw new ImageError(
        'image_too_large',
        `image is ${meta.width}x${meta.height} pixels; the limit is ${limits.maxPixels} pixels`,
      );
    }
    return meta.format ?? 'unknown';
  } catch (error) {
    throw toImageError(error, limits);
  }
}

function toImageError(error: unknown, limits: ImageLimits): ImageError {
  if (error instanceof ImageError) return error;
  const reason = error instanceof Error ? error.message : String(error);
  if (/pixel limit/i.test(reason)) {
    return new ImageError('image_too_large', `image exceeds the ${limits.maxPixels}-pixel limit`, {
      cause: error,
    });
  }
  if (/unsupported image format/i.test(reason)) {
    return new ImageError('invalid_image', 'the bytes are not a recognised image', { cause: error });
  }
  return new ImageError('invalid_image', `the image could not be decoded: ${reason}`, { cause: error });
}

/** RGB bytes (HWC) -> float64 CHW in [-1, 1]. */
function interleavedToPlanar(rgb: Uint8Array, height: number, width: number): Float64Array {
  const plane = height * width;
  const out = new Float64Array(3 * plane);
  for (let p = 0; p < plane; p++) {
    for (let c = 0; c < 3; c++) out[c * plane + p] = rgb[p * 3 + c]! / 127.5 - 1;
  }
  return out;
}
