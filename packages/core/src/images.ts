/**
 * The input images the service accepts: formats and size limits. The API checks an image's header against
 * them before anything is stored; the worker's decoder (models image/decode.ts) holds the pixels to the same.
 */

/** Accepted input formats, by the name image decoders give them, with the Content-Type an upload must carry. */
export const IMAGE_CONTENT_TYPES = {
  png: 'image/png',
  jpeg: 'image/jpeg',
  webp: 'image/webp',
} as const;
export type ImageFormat = keyof typeof IMAGE_CONTENT_TYPES;
export const IMAGE_FORMATS = Object.keys(IMAGE_CONTENT_TYPES) as ImageFormat[];

/** Largest encoded image, uploaded or decoded by a worker. */
export const MAX_IMAGE_BYTES = 20 * 1024 * 1024;

/** Max decoded size of an inline base64 image; larger images go through POST /v1/uploads. */
export const MAX_INLINE_IMAGE_BYTES = 4 * 1024 * 1024;

/**
 * Largest width x height, read from the header before any pixel is decoded (a decompression bomb declares
 * more). 64 megapixels: far above any photo the models resize down, far below a bomb.
 */
export const MAX_IMAGE_PIXELS = 8192 * 8192;
