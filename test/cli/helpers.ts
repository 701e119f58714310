import { execFile } from 'node:child_process';
import { join } from 'node:path';

/** The `obelm` bin as npm links it (packages/cli/package.json and the root package.json name the same file). */
export const OBELM_BIN = join(import.meta.dirname, '../../packages/cli/bin/obelm.mjs');

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs the real command line in its own process against the stack of `dataDir`. Asynchronous on purpose: the
 * stack under test serves from this process, so a synchronous spawn would stall it.
 */
export function obelm(dataDir: string, args: string[], env: Record<string, string> = {}): Promise<CliRun> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [OBELM_BIN, ...args],
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
