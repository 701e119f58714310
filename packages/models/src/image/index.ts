export { type DecodeOptions, decodeImage } from './decode.ts';
export { type EncodeOptions, encodeImage, type ImageFormat } from './encode.ts';
export { ImageError, type ImageErrorCode } from './errors.ts';
export { defaultImageLimits, type ImageLimits } from './limits.ts';
