/**
 * The built-in demo bundle, generated on first use into `<cacheDir>/demo-v1/` (obelm.json + unet.onnx).
 *
 * Why a folder and not an in-memory model: the demo then loads through the same `loadBundle(dir)` path as
 * every other bundle (manifest, checksums, session from a file), the worker can upload the folder to S3
 * like any bundle, and later loads skip the rendering. The bytes are deterministic, so regenerating an
 * erased cache gives the same model.
 */
import { join } from 'node:path';
import { alphasCumprod, type ModelDefaults, type ScheduleConfig, SD_SCHEDULE } from '@obelm/engine';
import { type BundleManifest, MANIFEST_FILE, type StepLimits } from '../bundle/manifest.ts';
import { writeBundle } from '../bundle/write.ts';
import { fileExists } from '../files.ts';
import { demoDataset } from './dataset.ts';
import { buildDemoGraph } from './graph.ts';
import { centreMixture, mixtureTables } from './mixture.ts';

export const DEMO_BUNDLE_ID = 'demo-v1';

/** Mixture component std s on the [-1, 1] pixel scale (docs/demo-model.md §6: 0.05; 0.1 shows grain). */
export const DEMO_STD = 0.05;
export const DEMO_SIZE = 32;

/** SD's training schedule with the official BELM grid (linspace, abar_0 = 1): docs/math.md §1. */
export const DEMO_SCHEDULE: ScheduleConfig = SD_SCHEDULE;

/**
 * docs/demo-model.md §6: N = 20; g = 1 (the conditional model is exact), capped at 3; edits g = 1, f = N/2,
 * restart 'single'.
 */
export const DEMO_DEFAULTS: ModelDefaults = {
  steps: 20,
  guidance: 1,
  maxGuidance: 3,
  editStrength: 0.5,
  editGuidance: 1,
  editRestart: 'single',
};

/** Up to 200 steps (ten times the default N) keeps a demo job's CPU time bounded. */
const DEMO_LIMITS: StepLimits = { minSteps: 2, maxSteps: 200 };

export function demoManifest(): Omit<BundleManifest, 'sha256'> {
  return {
    format: 1,
    id: DEMO_BUNDLE_ID,
    kind: 'pixel',
    description: 'Closed-form diffusion model of 216 labelled 32x32 shapes (Gaussian mixture, s = 0.05)',
    imageSize: [DEMO_SIZE, DEMO_SIZE],
    latentShape: [1, 3, DEMO_SIZE, DEMO_SIZE],
    schedule: DEMO_SCHEDULE,
    defaults: DEMO_DEFAULTS,
    limits: DEMO_LIMITS,
    files: { unet: 'unet.onnx' },
    conditioning: 'demo-labels',
    options: { size: DEMO_SIZE, std: DEMO_STD },
  };
}

/** The demo model's ONNX bytes (deterministic). */
export function buildDemoModel(): Uint8Array {
  const dataset = demoDataset(DEMO_SIZE);
  return buildDemoGraph({
    mixture: centreMixture(dataset.images, dataset.items.length),
    tables: mixtureTables(alphasCumprod(DEMO_SCHEDULE), DEMO_STD),
    imageShape: [3, DEMO_SIZE, DEMO_SIZE],
  });
}

/** Cache folder: $OBELM_MODEL_CACHE, else `.obelm/models` under the working directory. */
export function defaultModelCacheDir(): string {
  return process.env.OBELM_MODEL_CACHE || join(process.cwd(), '.obelm', 'models');
}

/** Returns the demo bundle's folder, generating it first if the cache lacks it. */
export async function ensureDemoBundle(cacheDir = defaultModelCacheDir()): Promise<string> {
  const dir = join(cacheDir, DEMO_BUNDLE_ID);
  if (!(await fileExists(join(dir, MANIFEST_FILE))))
    await writeBundle(dir, demoManifest(), { 'unet.onnx': buildDemoModel() });
  return dir;
}
