import type { Tensor } from '@obelm/engine';
import sharp from 'sharp';
import { ImageError } from './errors.ts';

export type ImageFormat = 'png' | 'webp' | 'jpeg';

export interface EncodeOptions {
  /** Which image of the batch to encode (default 0). */
  readonly batchIndex?: number;
  /** JPEG / lossy WebP quality 1..100 (default 90). */
  readonly quality?: number;
  /** WebP only: lossless (default true, so pixels round-trip exactly). */
  readonly lossless?: boolean;
}

/**
 * Encodes one image of a float NCHW batch [B, 3, H, W] in [-1, 1] as PNG/WebP/JPEG.
 * Pixels map back with round((x + 1) * 127.5) clamped to 0..255 (the inverse of decodeImage's x/127.5 - 1).
 */
export async function encodeImage(
  pixels: Tensor,
  format: ImageFormat,
  options: EncodeOptions = {},
): Promise<Uint8Array> {
  const [batch, channels, height, width] = pixels.shape;
  if (pixels.shape.length !== 4 || channels !== 3 || !batch || !height || !width) {
    throw new ImageError('invalid_pixels', `expected pixels of shape [B, 3, H, W], got [${pixels.shape}]`);
  }
  if (pixels.data.length !== batch * 3 * height * width) {
    throw new ImageError(
      'invalid_pixels',
      `pixel data length ${pixels.data.length} does not match [${pixels.shape}]`,
    );
  }
  const index = options.batchIndex ?? 0;
  if (!Number.isInteger(index) || index < 0 || index >= batch) {
    throw new ImageError('invalid_pixels', `batch index ${index} is outside 0..${batch - 1}`);
  }
  const rgb = planarToInterleaved(pixels.data, index, height, width);
  const image = sharp(rgb, { raw: { width, height, channels: 3 } });
  const quality = options.quality ?? 90;
  const encoded =
    format === 'png'
      ? image.png()
      : format === 'webp'
        ? image.webp({ lossless: options.lossless ?? true, quality })
        : image.jpeg({ quality });
  return new Uint8Array(await encoded.toBuffer());
}

/** Float64 CHW in [-1, 1] (image `index` of the batch) -> RGB bytes HWC; NaN becomes 0. */
function planarToInterleaved(data: Float64Array, index: number, height: number, width: number): Uint8Array {
  const plane = height * width;
  const offset = index * 3 * plane;
  const out = new Uint8Array(3 * plane);
  for (let p = 0; p < plane; p++) {
    for (let c = 0; c < 3; c++) {
      const value = Math.round((data[offset + c * plane + p]! + 1) * 127.5);
      out[p * 3 + c] = Number.isNaN(value) ? 0 : Math.min(255, Math.max(0, value));
    }
  }
  return out;
}
