import { join } from 'node:path';
import { IdSchema, type WorkerConfig } from '@obelm/core';
import type { DiffusionModel } from '@obelm/engine';
import { defaultModelCacheDir, loadBundle } from '@obelm/models';

/**
 * Model id -> loaded model. 'demo' is built in (generated into the cache on first use); any other id names a
 * bundle folder `<OBELM_MODEL_CACHE>/<id>` (the container image or its start-up sync puts bundles there).
 */
export function loadModelBundle(id: string, config: WorkerConfig): Promise<DiffusionModel> {
  // Ids are validated by the API already; checked again because this one becomes a path.
  const safeId = IdSchema.parse(id);
  const cacheDir = config.OBELM_MODEL_CACHE ?? defaultModelCacheDir();
  const options = {
    provider: config.OBELM_PROVIDER,
    cacheDir,
    ...(config.OBELM_THREADS > 0 ? { threads: config.OBELM_THREADS } : {}),
  };
  return loadBundle(safeId === 'demo' ? 'demo' : join(cacheDir, safeId), options);
}
