import { execFile } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { testBundle } from '../testBundle.ts';

/** The `obelm` bin as npm links it (packages/cli/package.json and the root package.json name the same file). */
export const OBELM_BIN = join(import.meta.dirname, '../../packages/cli/bin/obelm.mjs');

/**
 * The command line's sources (the bin's packages/cli/src/main.ts and the workspace packages it imports) as
 * testBundle compiles them: a command then starts in about a third of the CPU time, and the CLI tests, a few
 * dozen commands each, spend most of theirs starting commands. The bin itself runs in the README example and
 * `--help` (test/cli/admin.test.ts).
 */
export const obelmBundle = () =>
  testBundle('obelm', join(import.meta.dirname, '../../packages/cli/src/main.ts'));

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
