import { HeadObjectCommand } from '@aws-sdk/client-s3';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import {
  ApiError,
  type ArtifactRule,
  acceptedArtifacts,
  artifactRule,
  badRequest,
  conflict,
  dbKeys,
  type ImageRef,
  type JobInput,
  type JobItem,
  type JobKind,
  MAX_INLINE_IMAGE_BYTES,
  type NoiseRef,
  notFound,
  type UploadItem,
} from '@obelm/core';
import type { Deps } from '../deps.ts';
import { getJob } from './store.ts';

/** An input once checked; inline bytes are written to S3 only after the job is committed to be created. */
export interface ResolvedInput {
  input: JobInput;
  inline?: Uint8Array;
}

// Magic numbers of the formats the worker decodes; anything else fails here, not minutes later in a worker.
const SIGNATURES: readonly (readonly (number | null)[])[] = [
  [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], // PNG
  [0xff, 0xd8, 0xff], // JPEG
  [0x52, 0x49, 0x46, 0x46, null, null, null, null, 0x57, 0x45, 0x42, 0x50], // RIFF....WEBP
];
const looksLikeImage = (bytes: Uint8Array): boolean =>
  SIGNATURES.some((sig) => sig.length <= bytes.length && sig.every((b, i) => b === null || bytes[i] === b));

/** Strict base64: the decoded bytes must re-encode to the input (Buffer.from alone skips bad characters). */
export function decodeInlineImage(base64: string, field: string): Uint8Array {
  const text = base64.replace(/\s+/g, '');
  const padded = text.padEnd(Math.ceil(text.length / 4) * 4, '=');
  const bytes = Buffer.from(padded, 'base64');
  if (bytes.length === 0 || bytes.toString('base64') !== padded) {
    throw badRequest('invalid_image', `${field}.base64 is not valid base64`, { field });
  }
  if (bytes.length > MAX_INLINE_IMAGE_BYTES) {
    throw new ApiError(
      413,
      'image_too_large',
      `${field} is ${bytes.length} bytes; inline images may be ${MAX_INLINE_IMAGE_BYTES} (use POST /v1/uploads)`,
      { field, maxBytes: MAX_INLINE_IMAGE_BYTES },
    );
  }
  if (!looksLikeImage(bytes))
    throw badRequest('invalid_image', `${field} is not a PNG, JPEG or WebP image`, { field });
  return bytes;
}

/** An uploaded image: the upload slot must be the tenant's and the object must have arrived within its limit. */
async function resolveUpload(deps: Deps, tenant: string, uploadId: string, field: string): Promise<JobInput> {
  const { Item } = await deps.db.send(
    new GetCommand({ TableName: deps.config.OBELM_TABLE, Key: dbKeys.upload(uploadId) }),
  );
  const upload = Item as UploadItem | undefined;
  if (!upload || upload.tenant !== tenant)
    throw notFound('unknown_upload', `${field}: no upload '${uploadId}'`);
  try {
    const head = await deps.s3.send(
      new HeadObjectCommand({ Bucket: deps.config.OBELM_BUCKET, Key: upload.key }),
    );
    if ((head.ContentLength ?? 0) > upload.maxBytes) {
      throw new ApiError(
        413,
        'image_too_large',
        `${field}: upload '${uploadId}' exceeds ${upload.maxBytes} bytes`,
        {
          field,
          maxBytes: upload.maxBytes,
        },
      );
    }
  } catch (err) {
    const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
    if (status === 404 || (err as Error).name === 'NotFound') {
      throw conflict('upload_pending', `${field}: nothing has been uploaded to '${uploadId}' yet`, { field });
    }
    throw err;
  }
  return { type: 'image', key: upload.key };
}

export async function resolveImage(
  deps: Deps,
  tenant: string,
  ref: ImageRef,
  inlineKey: string,
  field: string,
): Promise<ResolvedInput> {
  if ('uploadId' in ref) return { input: await resolveUpload(deps, tenant, ref.uploadId, field) };
  return { input: { type: 'image', key: inlineKey }, inline: decodeInlineImage(ref.base64, field) };
}

/**
 * A noise artifact: the job must be the tenant's (else 404 `unknown_noise`, never revealing that it exists), of a
 * kind whose artifact can start a job of kind `job` (core artifacts.ts; else 409 `incompatible_noise`), and must
 * have succeeded with a noise output (else 409 `noise_not_ready`). Returns the job and the rule that applies.
 */
export async function loadNoiseJob(
  deps: Deps,
  tenant: string,
  ref: NoiseRef,
  field: string,
  job: JobKind,
): Promise<{ source: JobItem; rule: ArtifactRule }> {
  const source = await getJob(deps, ref.jobId);
  if (!source || source.tenant !== tenant) throw notFound('unknown_noise', `${field}: no job '${ref.jobId}'`);
  const rule = artifactRule(job, source.params.kind);
  if (!rule) {
    const accepted = acceptedArtifacts(job);
    throw conflict(
      'incompatible_noise',
      `${field}: job '${ref.jobId}' is ${article(source.params.kind)} job; ${article(job)} job starts from the noise of ${accepted.map(article).join(' or ')} job`,
      { field, noiseKind: source.params.kind, accepted },
    );
  }
  if (source.status !== 'succeeded' || !source.outputs?.noise) {
    throw conflict(
      'noise_not_ready',
      `${field}: job '${ref.jobId}' has no noise artifact yet (status ${source.status})`,
      { field, status: source.status },
    );
  }
  return { source, rule };
}

const article = (kind: string): string => `${/^[aeiou]/.test(kind) ? 'an' : 'a'} ${kind}`;

export const noiseInput = (job: JobItem): JobInput => ({
  type: 'noise',
  key: job.outputs!.noise!,
  jobId: job.id,
  jobKind: job.params.kind,
});
