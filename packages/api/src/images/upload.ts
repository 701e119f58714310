import { GetObjectCommand, HeadObjectCommand, type HeadObjectCommandOutput } from '@aws-sdk/client-s3';
import { ApiError, conflict, IMAGE_CONTENT_TYPES, type UploadItem } from '@obelm/core';
import type { Deps } from '../deps.ts';
import { formatMismatch, HEAD_BYTES, inspectImage, invalidImage } from './inspect.ts';

/**
 * An uploaded image, when a job names it: the object must be there (409 `upload_pending`), non-empty, within
 * the slot's size, of the slot's Content-Type, and a sound image of that format within the tenant plan's
 * `maxPixels` (inspect.ts). The header and the end are read with ranged GETs (a few KB), never the whole object.
 */
export async function checkUpload(
  deps: Deps,
  upload: UploadItem,
  field: string,
  maxPixels: number,
): Promise<void> {
  const head = await headObject(deps, upload, field);
  const length = head.ContentLength ?? 0;
  if (length === 0) throw invalidImage(field, 'empty', `upload '${upload.uploadId}' is empty`);
  if (length > upload.maxBytes) {
    throw new ApiError(
      413,
      'image_too_large',
      `${field}: upload '${upload.uploadId}' is ${length} bytes, over ${upload.maxBytes}`,
      { field, maxBytes: upload.maxBytes },
    );
  }
  const contentType = head.ContentType ?? '';
  const accepted: readonly string[] = Object.values(IMAGE_CONTENT_TYPES);
  if (contentType !== upload.contentType || !accepted.includes(contentType)) {
    throw invalidImage(
      field,
      'content_type',
      `upload '${upload.uploadId}' was stored as '${contentType}'; its slot takes ${upload.contentType}`,
      { contentType, expected: upload.contentType },
    );
  }
  const read = (start: number, end: number) => readRange(deps, upload.key, start, end);
  const header = await inspectImage(field, length, read, HEAD_BYTES, maxPixels);
  if (IMAGE_CONTENT_TYPES[header.format] !== contentType)
    throw formatMismatch(field, header.format, contentType);
}

async function headObject(deps: Deps, upload: UploadItem, field: string): Promise<HeadObjectCommandOutput> {
  try {
    return await deps.s3.send(new HeadObjectCommand({ Bucket: deps.config.OBELM_BUCKET, Key: upload.key }));
  } catch (err) {
    const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
    if (status === 404 || (err as Error).name === 'NotFound') {
      throw conflict('upload_pending', `${field}: nothing has been uploaded to '${upload.uploadId}' yet`, {
        field,
        uploadId: upload.uploadId,
      });
    }
    throw err;
  }
}

/** Bytes [start, end) of an object, by an explicit range (some S3 stand-ins get suffix ranges wrong). */
async function readRange(deps: Deps, key: string, start: number, end: number): Promise<Uint8Array> {
  const { Body } = await deps.s3.send(
    new GetObjectCommand({ Bucket: deps.config.OBELM_BUCKET, Key: key, Range: `bytes=${start}-${end - 1}` }),
  );
  return Body ? Body.transformToByteArray() : new Uint8Array();
}
