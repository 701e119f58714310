import { CodedError } from '@obelm/core';

/** Why an image was refused; stable strings the API maps to a 400 response. */
export type ImageErrorCode = 'invalid_image' | 'image_too_large' | 'unsupported_format' | 'invalid_pixels';

/** A bad input image (or pixel tensor): not an image, corrupt, too big, or a format we do not accept. */
export class ImageError extends CodedError<ImageErrorCode> {
  override readonly name = 'ImageError';
}
