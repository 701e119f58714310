/** Caps on untrusted input images: checked before any pixel is decoded. */
export interface ImageLimits {
  /** Largest accepted encoded size in bytes. */
  readonly maxBytes: number;
  /** Largest accepted width x height, read from the header (guards against decompression bombs). */
  readonly maxPixels: number;
}

export const defaultImageLimits: ImageLimits = {
  maxBytes: 20 * 1024 * 1024,
  // 64 megapixels: far above any photo we would resize down to 512x512, far below a bomb.
  maxPixels: 8192 * 8192,
};
