import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type LocalStack, type LocalStackOptions, startLocalStack } from '@obelm/local';
import { ensureDemoBundle } from '@obelm/models';
import { TEST_WORKER_ENV, WORKER_SCRIPT } from '../e2e/helpers.ts';

/** A fresh data folder, removed by `removeTempDirs` (afterAll). */
const dirs: string[] = [];
export function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'obelm-local-'));
  dirs.push(dir);
  return dir;
}
export const removeTempDirs = () => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
};

/**
 * A stack in a fresh folder whose workers run the worker bundle (WORKER_SCRIPT) with the test settings (1 s
 * heartbeats and polls) and a built demo bundle.
 */
export async function startTestStack(options: LocalStackOptions = {}): Promise<LocalStack> {
  const dataDir = tempDir();
  const modelCache = join(dataDir, 'models');
  await ensureDemoBundle(modelCache);
  return startLocalStack({
    dataDir,
    port: 0,
    workerScript: WORKER_SCRIPT,
    ...options,
    workerEnv: { ...TEST_WORKER_ENV, OBELM_MODEL_CACHE: modelCache, ...options.workerEnv },
  });
}

/** Polls `probe` until it returns something other than undefined/false. */
export async function waitFor<T>(
  what: string,
  probe: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs = 20_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Whether a process runs: a zombie (exited, not yet reaped by an init that does not reap) counts as gone. */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    // /proc/<pid>/stat: "pid (comm) state ..."; comm may hold spaces or parentheses, so read after the last ')'.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return process.platform !== 'linux';
  }
}
