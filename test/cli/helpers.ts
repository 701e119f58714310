import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { build } from 'esbuild';

/** The `obelm` bin as npm links it (packages/cli/package.json and the root package.json name the same file). */
export const OBELM_BIN = join(import.meta.dirname, '../../packages/cli/bin/obelm.mjs');

/**
 * Under the repository, so that the bundle's requires of installed packages (the AWS SDK, onnxruntime) resolve
 * to its node_modules as the sources' imports do.
 */
const BUNDLE_DIR = join(import.meta.dirname, '../../node_modules/.cache/obelm-cli-test');

/** Large packages whose CommonJS builds start fast and export what their ES modules do. */
const REQUIRED_PACKAGES = /^(@aws-sdk\/|@aws-lambda-powertools\/|@huggingface\/|onnxruntime-node$|sharp$)/;

let bundled: Promise<string> | undefined;

/**
 * The command line's sources (the bin's packages/cli/src/main.ts and the workspace packages it imports)
 * compiled once by esbuild, as tsx compiles them at every start of the bin, into one CommonJS file that loads
 * the AWS SDK with require (its CommonJS build: one file a package, not the hundreds of ES modules an import
 * loads). A command then starts in about a third of the CPU time, and the CLI tests, a few dozen commands
 * each, spend most of theirs starting commands. Named by its content, so a source change builds a new one and
 * no test runs a stale one; the bin itself runs in the README example and `--help` (test/cli/admin.test.ts).
 */
export function obelmBundle(): Promise<string> {
  bundled ??= (async () => {
    const { outputFiles } = await build({
      entryPoints: [join(import.meta.dirname, '../../packages/cli/src/main.ts')],
      bundle: true,
      write: false,
      platform: 'node',
      format: 'cjs',
      target: `node${process.versions.node}`,
      outfile: 'obelm.cjs',
      // The one use of import.meta in these sources: resolving a package from the module's own place.
      define: { 'import.meta.url': '__obelmModuleUrl' },
      banner: { js: "const __obelmModuleUrl = require('node:url').pathToFileURL(__filename).href;" },
      logLevel: 'error',
      // The AWS SDK and the native packages are required as installed (their CommonJS builds); the rest, the
      // workspace's sources included, bundled from the ES modules an import loads (a package's CommonJS build
      // may export its default differently, as openapi-fetch's does).
      plugins: [
        {
          name: 'required-packages',
          setup: (b) => b.onResolve({ filter: REQUIRED_PACKAGES }, () => ({ external: true })),
        },
      ],
    });
    const code = outputFiles[0]!.contents;
    const file = join(
      BUNDLE_DIR,
      `obelm-${createHash('sha256').update(code).digest('hex').slice(0, 16)}.cjs`,
    );
    if (!existsSync(file)) {
      mkdirSync(BUNDLE_DIR, { recursive: true });
      // Written whole under a name of its own, then renamed: a test file building the same bundle at the same
      // time never runs half of one.
      const partial = `${file}.${process.pid}`;
      writeFileSync(partial, code);
      renameSync(partial, file);
      // Bundles of earlier sources, once no test run can still be starting them.
      for (const name of readdirSync(BUNDLE_DIR)) {
        const old = join(BUNDLE_DIR, name);
        const modified = statSync(old, { throwIfNoEntry: false })?.mtimeMs ?? Date.now();
        if (old !== file && modified < Date.now() - 3_600_000) rmSync(old, { force: true });
      }
    }
    return file;
  })();
  return bundled;
}

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs the real command line in its own process against the stack of `dataDir`: its sources as obelmBundle
 * compiles them, or with `{ bin: true }` the bin as installed. Asynchronous on purpose: the stack under test
 * serves from this process, so a synchronous spawn would stall it.
 */
export async function obelm(
  dataDir: string,
  args: string[],
  env: Record<string, string> = {},
  { bin = false }: { bin?: boolean } = {},
): Promise<CliRun> {
  const program = bin ? OBELM_BIN : await obelmBundle();
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [program, ...args],
      { env: { ...process.env, OBELM_API_KEY: '', OBELM_API_URL: '', OBELM_DATA_DIR: dataDir, ...env } },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/** Runs a command that must succeed; its stdout. */
export async function obelmOk(
  dataDir: string,
  args: string[],
  env?: Record<string, string>,
): Promise<string> {
  const run = await obelm(dataDir, args, env);
  if (run.code !== 0) throw new Error(`obelm ${args.join(' ')}: exit ${run.code}: ${run.stderr}`);
  return run.stdout;
}

/** A new tenant and one key of it, made with `obelm admin` as an operator would. */
export async function tenantWithKey(
  dataDir: string,
  tenant: string,
): Promise<{ keyId: string; key: string }> {
  await obelmOk(dataDir, ['admin', 'create-tenant', tenant]);
  const created = JSON.parse(
    await obelmOk(dataDir, ['admin', 'create-key', '--tenant', tenant, '--json']),
  ) as {
    tenant: string;
    keyId: string;
    key: string;
  };
  if (created.tenant !== tenant) throw new Error(`create-key answered tenant ${created.tenant}`);
  return created;
}

/**
 * SSM's GetParameter as the SDK speaks it (JSON 1.1 over HTTP), for `--stage`: there is no SSM stand-in, and the
 * parameters are all the command line reads of it. Its endpoint goes in AWS_ENDPOINT_URL_SSM.
 */
export async function fakeSsm(
  parameters: Record<string, string>,
): Promise<{ endpoint: string; server: Server }> {
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk) => {
      body += chunk;
    });
    req.on('end', () => {
      const name = (JSON.parse(body) as { Name: string }).Name;
      const value = req.headers['x-amz-target'] === 'AmazonSSM.GetParameter' ? parameters[name] : undefined;
      res.writeHead(value === undefined ? 400 : 200, { 'content-type': 'application/x-amz-json-1.1' });
      res.end(
        JSON.stringify(
          value === undefined
            ? { __type: 'ParameterNotFound', message: `no parameter ${name}` }
            : { Parameter: { Name: name, Type: 'String', Value: value } },
        ),
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}
