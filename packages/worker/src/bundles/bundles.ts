import type { S3Client } from '@aws-sdk/client-s3';
import { createLogger, type WorkerConfig } from '@obelm/core';
import type { DiffusionModel } from '@obelm/engine';
import { defaultModelCacheDir, loadBundle } from '@obelm/models';
import { createS3Client } from '../aws/clients.ts';
import { fetchBundle } from './bundleFetch.ts';
import { bundleSourceOf } from './bundleSource.ts';

/** What the models package warns about while loading (a fallback to cpu, prompt words a model cannot read). */
const modelLog = createLogger('worker', { component: 'models' });

/**
 * Model id -> loaded model. 'demo' is built in (generated into the cache on first use); any other id is an
 * S3 prefix (bundleSource.ts has the rule) copied into `<OBELM_MODEL_CACHE>/<id>/` and loaded from there,
 * with `s3` when given (the caller's client, left open).
 */
export async function loadModelBundle(
  id: string,
  config: WorkerConfig,
  s3?: S3Client,
): Promise<DiffusionModel> {
  const source = bundleSourceOf(id, config);
  const cacheDir = config.OBELM_MODEL_CACHE ?? defaultModelCacheDir();
  const options = {
    provider: config.OBELM_PROVIDER,
    cpuFallback: config.OBELM_PROVIDER_FALLBACK === 'cpu',
    logger: (message: string) => modelLog.warn(message),
    cacheDir,
    ...(config.OBELM_THREADS > 0 ? { threads: config.OBELM_THREADS } : {}),
  };
  if (source.type === 'built-in') return loadBundle(source.id, options);
  if (s3) return loadBundle(await fetchBundle(s3, source, cacheDir), options);
  // Its own client: the process-wide model cache outlives any one worker's clients.
  const own = createS3Client();
  try {
    return await loadBundle(await fetchBundle(own, source, cacheDir), options);
  } finally {
    own.destroy();
  }
}
