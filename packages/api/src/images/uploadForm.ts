import { createPresignedPost } from '@aws-sdk/s3-presigned-post';
import type { Deps } from '../deps.ts';

export interface ImageUploadForm {
  url: string;
  fields: Record<string, string>;
  maxBytes: number;
  expiresAt: string;
}

/**
 * A presigned POST form for an image, with the limits S3 itself enforces for every upload (POST /v1/uploads,
 * a batch's prefix): 1 byte to OBELM_UPLOAD_MAX_BYTES, and `contentType`, or any image type when none is named
 * (the worker refuses what it cannot decode). `key` may end in `${filename}`: any key with that prefix.
 */
export async function imageUploadForm(
  deps: Deps,
  key: string,
  contentType: string | undefined,
  now: Date,
): Promise<ImageUploadForm> {
  const { config } = deps;
  const maxBytes = config.OBELM_UPLOAD_MAX_BYTES;
  const expires = config.OBELM_PRESIGN_SECONDS;
  const { url, fields } = await createPresignedPost(deps.s3, {
    Bucket: config.OBELM_BUCKET,
    Key: key,
    Conditions: [
      ['content-length-range', 1, maxBytes],
      contentType ? ['eq', '$Content-Type', contentType] : ['starts-with', '$Content-Type', 'image/'],
    ],
    ...(contentType ? { Fields: { 'Content-Type': contentType } } : {}),
    Expires: expires,
  });
  return { url, fields, maxBytes, expiresAt: new Date(now.getTime() + expires * 1000).toISOString() };
}
