import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { LOCAL_STACK_FILE, type LocalStackFile, LocalStackFileSchema } from '@obelm/core';
import { CliError } from './errors.ts';

/**
 * Finding the running local stack through its data folder, apart from the AWS clients of target.ts: the API
 * commands need only this, and loading the AWS SDK costs them about a second at every start.
 */

/** The data folder the local stack and this command line agree on (OBELM_DATA_DIR, default `.obelm`). */
export const localDataDir = (env: NodeJS.ProcessEnv = process.env): string =>
  resolve(env['OBELM_DATA_DIR'] || '.obelm');

/** The running local stack's discovery file (packages/local writes it at start, removes it at stop). */
export function runningLocalStack(dataDir = localDataDir()): LocalStackFile {
  const file = join(dataDir, LOCAL_STACK_FILE);
  const hint =
    'start one with `npm start` (or set OBELM_DATA_DIR to its data folder), or pass --stage <name>';
  if (!existsSync(file)) throw new CliError(`no local stack runs in ${dataDir}: ${hint}`);
  const parsed = LocalStackFileSchema.safeParse(JSON.parse(readFileSync(file, 'utf8')));
  if (!parsed.success) throw new CliError(`${file} is not a stack file of this version: restart the stack`);
  if (!isAlive(parsed.data.pid)) {
    throw new CliError(`the local stack in ${dataDir} is not running (its process is gone): ${hint}`);
  }
  return parsed.data;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
