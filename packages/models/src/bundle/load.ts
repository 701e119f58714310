/**
 * `loadBundle`: a bundle folder (or a built-in id) -> a ready DiffusionModel. The manifest's `kind` picks
 * the factory; SD bundles register theirs in BUNDLE_KINDS.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DEMO_BUNDLE_ID, ensureDemoBundle } from '../demo/bundle.ts';
import { fileExists, readJsonIfPresent } from '../files.ts';
import { ModelError } from '../runtime/errors.ts';
import type { RuntimeOptions } from '../runtime/session.ts';
import { inferSdManifest, isSdExport } from '../sd/config.ts';
import { openSdBundle } from '../sd/model.ts';
import { refuseRandomOps } from './determinism.ts';
import { type BundleKind, type BundleManifest, MANIFEST_FILE, parseManifest } from './manifest.ts';
import type { LoadedModel } from './model.ts';
import { openPixelModel } from './pixel.ts';

export type BundleFactory = (
  dir: string,
  manifest: BundleManifest,
  opts: RuntimeOptions,
) => Promise<LoadedModel>;

/** One factory per bundle kind. The SD kind (packages/models/src/sd) plugs in here. */
const BUNDLE_KINDS: Partial<Record<BundleKind, BundleFactory>> = {
  pixel: openPixelModel,
  sd: openSdBundle,
};

export interface LoadOptions extends RuntimeOptions {
  /** Where built-in bundles are generated (default: $OBELM_MODEL_CACHE or ./.obelm/models). */
  cacheDir?: string;
}

/** Built-in bundle ids that need no folder: 'demo' is an alias of the current demo version. */
const BUILT_IN = new Set(['demo', DEMO_BUNDLE_ID]);

/**
 * Loads a bundle from a folder, or generates and loads a built-in one ('demo').
 *
 * @example
 * const model = await loadBundle('demo', { provider: 'cpu' });
 * const emb = await model.embed('red circle');
 */
export async function loadBundle(dirOrId: string, opts: LoadOptions): Promise<LoadedModel> {
  const dir = BUILT_IN.has(dirOrId) ? await ensureDemoBundle(opts.cacheDir) : dirOrId;
  // A diffusers/optimum SD export without obelm.json still loads, with an inferred manifest.
  const manifest =
    !(await fileExists(join(dir, MANIFEST_FILE))) && (await isSdExport(dir))
      ? await inferSdManifest(dir)
      : await readManifest(dir);
  await verifyChecksums(dir, manifest);
  const factory = BUNDLE_KINDS[manifest.kind];
  if (!factory) {
    throw new ModelError('bundle_unknown_kind', `${dir}: no loader for bundle kind '${manifest.kind}' yet`);
  }
  // Before any session opens: a model that draws random numbers must never run (determinism.ts).
  await refuseRandomOps(dir);
  return factory(dir, manifest, opts);
}

export async function readManifest(dir: string): Promise<BundleManifest> {
  const path = join(dir, MANIFEST_FILE);
  const json = await readJsonIfPresent(
    path,
    (message, cause) => new ModelError('bundle_invalid_manifest', message, { cause }),
  );
  if (json === undefined) {
    throw new ModelError('bundle_not_found', `no model bundle at ${dir} (cannot read ${MANIFEST_FILE})`);
  }
  return parseManifest(json, path);
}

async function verifyChecksums(dir: string, manifest: BundleManifest): Promise<void> {
  for (const [name, expected] of Object.entries(manifest.sha256 ?? {})) {
    const bytes = await readFile(join(dir, name)).catch((error) => {
      throw new ModelError('bundle_not_found', `${dir}: missing bundle file ${name}`, { cause: error });
    });
    const actual = createHash('sha256').update(bytes).digest('hex');
    if (actual !== expected) {
      throw new ModelError(
        'bundle_invalid_manifest',
        `${dir}: ${name} does not match its sha256 (corrupt copy?)`,
      );
    }
  }
}
