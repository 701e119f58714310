import { MAX_IMAGE_BYTES, MAX_IMAGE_PIXELS } from '@obelm/core';

/** Caps on untrusted input images: checked before any pixel is decoded. */
export interface ImageLimits {
  /** Largest accepted encoded size in bytes. */
  readonly maxBytes: number;
  /** Largest accepted width x height, read from the header (guards against decompression bombs). */
  readonly maxPixels: number;
}

/** Core's limits, the ones the API checks image headers against. */
export const defaultImageLimits: ImageLimits = { maxBytes: MAX_IMAGE_BYTES, maxPixels: MAX_IMAGE_PIXELS };
