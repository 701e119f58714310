import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { build } from 'esbuild';
import { SESSION_HOST_SOURCE, sessionHostDefine } from '../packages/models/src/runtime/sessionHostEntry.ts';

/**
 * Under the repository, so that a bundle's requires of installed packages (the AWS SDK, onnxruntime) resolve
 * to its node_modules as the sources' imports do.
 */
const BUNDLE_DIR = join(import.meta.dirname, '../node_modules/.cache/obelm-test-bundles');

/** Large packages whose CommonJS builds start fast and export what their ES modules do. */
const REQUIRED_PACKAGES = /^(@aws-sdk\/|@aws-lambda-powertools\/|@huggingface\/|onnxruntime-node$|sharp$)/;

/** `require` for the bundle's CommonJS parts and the required packages (an ES module has none of its own). */
const REQUIRE_BANNER =
  "import { createRequire as __testBundleCreateRequire } from 'node:module';\n" +
  'const require = __testBundleCreateRequire(import.meta.url);';

const bundles = new Map<string, Promise<string>>();
let sessionHost: Promise<string> | undefined;

/**
 * A program's TypeScript sources (`entry` and the workspace packages it imports) compiled once per test process
 * by esbuild, as tsx compiles them at every start, into one ES module (an entry may await at its top level)
 * that loads the AWS SDK and the native packages with require: their CommonJS builds, one file a package, not
 * the hundreds of ES modules an import loads. A process started from it with plain node spends a quarter to a
 * third of the CPU time of a start through tsx; tests that start many spend most of theirs starting them.
 * Named by its content, so a source change builds a new one and no test runs a stale one. `name` prefixes the
 * file's name. The onnxruntime session host thread's entry is bundled beside it (sessionHostEntry.ts), and the
 * bundle names that file, so its own name changes with the host's content too.
 */
export function testBundle(name: string, entry: string): Promise<string> {
  let bundled = bundles.get(entry);
  if (!bundled) {
    sessionHost ??= buildBundle('sessionHost', SESSION_HOST_SOURCE, {});
    bundled = sessionHost.then((host) => buildBundle(name, entry, sessionHostDefine(`./${basename(host)}`)));
    bundles.set(entry, bundled);
  }
  return bundled;
}

async function buildBundle(name: string, entry: string, define: Record<string, string>): Promise<string> {
  const { outputFiles } = await build({
    define,
    entryPoints: [entry],
    bundle: true,
    write: false,
    platform: 'node',
    format: 'esm',
    target: `node${process.versions.node}`,
    outfile: `${name}.mjs`,
    banner: { js: REQUIRE_BANNER },
    logLevel: 'error',
    // The required packages' imports become a module that requires them as installed (their CommonJS builds);
    // the rest, the workspace's sources included, bundled from the ES modules an import loads (a package's
    // CommonJS build may export its default differently, as openapi-fetch's does).
    plugins: [
      {
        name: 'required-packages',
        setup: (b) => {
          b.onResolve({ filter: REQUIRED_PACKAGES }, ({ path, kind }) =>
            kind === 'require-call' ? { path, external: true } : { path, namespace: 'required-package' },
          );
          b.onLoad({ filter: /.*/, namespace: 'required-package' }, ({ path }) => ({
            contents: `module.exports = require(${JSON.stringify(path)});`,
            loader: 'js',
          }));
        },
      },
    ],
  });
  const code = outputFiles[0]!.contents;
  const file = join(
    BUNDLE_DIR,
    `${name}-${createHash('sha256').update(code).digest('hex').slice(0, 16)}.mjs`,
  );
  if (!existsSync(file)) {
    mkdirSync(BUNDLE_DIR, { recursive: true });
    // Written whole under a name of its own, then renamed: a test file building the same bundle at the same
    // time never runs half of one.
    const partial = `${file}.${process.pid}`;
    writeFileSync(partial, code);
    renameSync(partial, file);
    // This program's bundles of earlier sources, once no test run can still be starting them.
    for (const other of readdirSync(BUNDLE_DIR).filter((f) => f.startsWith(`${name}-`))) {
      const old = join(BUNDLE_DIR, other);
      const modified = statSync(old, { throwIfNoEntry: false })?.mtimeMs ?? Date.now();
      if (old !== file && modified < Date.now() - 3_600_000) rmSync(old, { force: true });
    }
  }
  return file;
}

/** The worker's container program (packages/worker/src/main.ts, as npm start runs it through tsx), bundled. */
export const workerBundle = () =>
  testBundle('worker', join(import.meta.dirname, '../packages/worker/src/main.ts'));
