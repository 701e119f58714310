import { IdSchema, s3Keys, type WorkerConfig } from '@obelm/core';
import { DEMO_BUNDLE_ID } from '@obelm/models';
import { WorkerError } from '../errors.ts';

/** Where a model bundle comes from: generated in-process, or an S3 prefix copied into the cache. */
export type BundleSource =
  | { readonly type: 'built-in'; readonly id: string }
  | { readonly type: 's3'; readonly id: string; readonly bucket: string; readonly prefix: string };

const BUILT_IN = new Set(['demo', DEMO_BUNDLE_ID]);

/**
 * The one rule from a model id to its bundle (config.ts, OBELM_MODEL_BUNDLE):
 * - 'demo' is built in;
 * - the id of OBELM_MODEL_BUNDLE, when that is an s3:// URL, is that URL (its id is the last path segment);
 * - any other id is the prefix `models/<id>/` of OBELM_BUCKET.
 */
export function bundleSourceOf(
  id: string,
  config: Pick<WorkerConfig, 'OBELM_BUCKET' | 'OBELM_MODEL_BUNDLE'>,
): BundleSource {
  // Ids are validated by the API already; checked again because this one becomes a path and a key.
  const safeId = IdSchema.parse(id);
  if (BUILT_IN.has(safeId)) return { type: 'built-in', id: safeId };
  const configured = parseS3Url(config.OBELM_MODEL_BUNDLE);
  if (configured?.id === safeId) return configured;
  return { type: 's3', id: safeId, bucket: config.OBELM_BUCKET, prefix: s3Keys.model(safeId) };
}

/** The model id OBELM_MODEL_BUNDLE names: a plain id, or the last path segment of an s3:// URL. */
export function configuredBundleId(bundle: string): string {
  return parseS3Url(bundle)?.id ?? bundle;
}

/** `s3://bucket/some/prefix/<id>/` -> its bucket, prefix (with a trailing slash) and id; else undefined. */
export function parseS3Url(url: string): Extract<BundleSource, { type: 's3' }> | undefined {
  const match = /^s3:\/\/([^/]+)\/(.+?)\/*$/.exec(url);
  if (!match) return undefined;
  const [, bucket = '', path = ''] = match;
  const id = path.split('/').at(-1) ?? '';
  if (!IdSchema.safeParse(id).success) {
    throw new WorkerError('model_not_found', `OBELM_MODEL_BUNDLE '${url}' must end in a model id`);
  }
  return { type: 's3', id, bucket, prefix: `${path}/` };
}
