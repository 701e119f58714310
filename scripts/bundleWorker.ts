/**
 * The worker container's bundle: packages/worker/src/main.ts with engine, models, core and the AWS SDK inlined
 * into one ESM file; the native packages (onnxruntime-node, sharp) stay external and are installed beside it.
 * The one definition of the build: the Dockerfile runs this script, and the worker bundle test and bench call
 * `bundleWorker`, so a bundling mistake fails CI before it reaches an image.
 *
 * Usage: npx tsx scripts/bundleWorker.ts [outfile]   (default dist/worker.mjs)
 */
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
export const WORKER_ENTRY = resolve(ROOT, 'packages/worker/src/main.ts');
/** Loaded from node_modules at run time: native addons esbuild cannot inline. */
export const WORKER_EXTERNALS = ['onnxruntime-node', 'sharp'] as const;

/** Builds the bundle (and its source map) into `outfile`. */
export async function bundleWorker(outfile: string): Promise<void> {
  await build({
    entryPoints: [WORKER_ENTRY],
    bundle: true,
    platform: 'node',
    target: 'node22',
    format: 'esm',
    external: [...WORKER_EXTERNALS],
    sourcemap: true,
    outfile,
    logLevel: 'warning',
    // CommonJS dependencies inlined into an ES module still call require().
    banner: {
      js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);",
    },
  });
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await bundleWorker(resolve(process.argv[2] ?? 'dist/worker.mjs'));
}
