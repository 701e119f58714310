/**
 * The worker container's bundle: packages/worker/src/main.ts with engine, models, core and the AWS SDK inlined
 * into one ESM file, and beside it the onnxruntime session host thread's entry (sessionHostEntry.ts), bundled
 * to SESSION_HOST_BUNDLE; the native packages (onnxruntime-node, sharp) stay external and are installed beside
 * them.
 * The one definition of the build: the Dockerfile runs this script, and the worker bundle test and bench call
 * `bundleWorker`, so a bundling mistake fails CI before it reaches an image.
 *
 * `bundleNodeEntry` builds any other Node entry the same way (the device check's provider facts, scripts/device).
 *
 * Usage: npx tsx scripts/bundleWorker.ts [outfile] [entry]   (default dist/worker.mjs, the worker's main.ts)
 */
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type BuildOptions, build } from 'esbuild';
import { SESSION_HOST_SOURCE, sessionHostDefine } from '../packages/models/src/runtime/sessionHostEntry.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
export const WORKER_ENTRY = resolve(ROOT, 'packages/worker/src/main.ts');
/** Loaded from node_modules at run time: native addons esbuild cannot inline. */
export const WORKER_EXTERNALS = ['onnxruntime-node', 'sharp'] as const;
/** The session host's bundle, written beside the worker's. */
export const SESSION_HOST_BUNDLE = 'sessionHost.mjs';

/** Builds the bundle and the session host's (each with its source map) into `outfile` and beside it. */
export function bundleWorker(outfile: string): Promise<void> {
  return bundleNodeEntry(WORKER_ENTRY, outfile);
}

/** `entry` bundled as the worker is: one ESM file, the session host's bundle beside it, native packages external. */
export async function bundleNodeEntry(entry: string, outfile: string): Promise<void> {
  const options: BuildOptions = {
    bundle: true,
    platform: 'node',
    target: 'node22',
    format: 'esm',
    external: [...WORKER_EXTERNALS],
    sourcemap: true,
    logLevel: 'warning',
    // CommonJS dependencies inlined into an ES module still call require().
    banner: {
      js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);",
    },
  };
  const hostFile = join(dirname(outfile), SESSION_HOST_BUNDLE);
  await Promise.all([
    build({
      ...options,
      entryPoints: [entry],
      outfile,
      define: sessionHostDefine(`./${SESSION_HOST_BUNDLE}`),
    }),
    build({ ...options, entryPoints: [SESSION_HOST_SOURCE], outfile: hostFile }),
  ]);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const entry = process.argv[3] ? resolve(process.argv[3]) : WORKER_ENTRY;
  await bundleNodeEntry(entry, resolve(process.argv[2] ?? 'dist/worker.mjs'));
}
