import { GetCommand } from '@aws-sdk/lib-dynamodb';
import {
  type ArtifactRule,
  acceptedArtifacts,
  artifactRule,
  conflict,
  dbKeys,
  type ImageRef,
  type JobInput,
  type JobItem,
  type JobKind,
  type NoiseRef,
  notFound,
  type UploadItem,
} from '@obelm/core';
import type { Deps } from '../deps.ts';
import { decodeInlineImage } from '../images/inline.ts';
import { checkUpload } from '../images/upload.ts';
import { getJob } from './store.ts';

/** An input once checked; inline bytes are written to S3 only after the job is committed to be created. */
export interface ResolvedInput {
  input: JobInput;
  inline?: Uint8Array;
}

/** An uploaded image: the upload slot must be the tenant's, and its object a sound image within its limits. */
async function resolveUpload(
  deps: Deps,
  tenant: string,
  uploadId: string,
  field: string,
  maxPixels: number,
): Promise<JobInput> {
  const { Item } = await deps.db.send(
    new GetCommand({ TableName: deps.config.OBELM_TABLE, Key: dbKeys.upload(uploadId) }),
  );
  const upload = Item as UploadItem | undefined;
  if (!upload || upload.tenant !== tenant)
    throw notFound('unknown_upload', `${field}: no upload '${uploadId}'`, { field, uploadId });
  await checkUpload(deps, upload, field, maxPixels);
  return { type: 'image', key: upload.key };
}

/** An input image, uploaded or inline, checked against the service's limits and the plan's `maxPixels`. */
export async function resolveImage(
  deps: Deps,
  tenant: string,
  ref: ImageRef,
  inlineKey: string,
  field: string,
  maxPixels: number,
): Promise<ResolvedInput> {
  if ('uploadId' in ref) return { input: await resolveUpload(deps, tenant, ref.uploadId, field, maxPixels) };
  return {
    input: { type: 'image', key: inlineKey },
    inline: await decodeInlineImage(ref.base64, field, maxPixels),
  };
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
  if (!source || source.tenant !== tenant)
    throw notFound('unknown_noise', `${field}: no job '${ref.jobId}'`, { field, jobId: ref.jobId });
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
