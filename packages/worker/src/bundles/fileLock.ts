import { open, rm, stat, utimes } from 'node:fs/promises';
import { hostname } from 'node:os';

export interface FileLockOptions {
  /** A lock whose file was not touched for this long is taken over (its holder died). Default 60 s. */
  readonly staleMs?: number;
  /** How often a waiter looks again. Default 250 ms. */
  readonly pollMs?: number;
}

/**
 * Runs `work` holding an exclusive lock file, shared by every process that sees the folder (several worker
 * containers on one instance share the host's model cache). The file is created with O_EXCL; its holder
 * touches it while it works, so a lock left by a crashed process is recognised by its age, not by a pid
 * (containers do not share a pid namespace).
 */
export async function withFileLock<T>(
  path: string,
  work: () => Promise<T>,
  options: FileLockOptions = {},
): Promise<T> {
  const staleMs = options.staleMs ?? 60_000;
  const pollMs = options.pollMs ?? 250;
  while (!(await tryCreate(path))) {
    const broken = (await isStale(path, staleMs)) && (await breakStale(path, staleMs));
    if (!broken) await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
  const keepFresh = setInterval(() => {
    const now = new Date();
    utimes(path, now, now).catch(() => {});
  }, staleMs / 4);
  keepFresh.unref();
  try {
    return await work();
  } finally {
    clearInterval(keepFresh);
    await rm(path, { force: true });
  }
}

async function tryCreate(path: string): Promise<boolean> {
  try {
    const file = await open(path, 'wx');
    await file.writeFile(
      JSON.stringify({ host: hostname(), pid: process.pid, at: new Date().toISOString() }),
    );
    await file.close();
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  }
}

async function isStale(path: string, staleMs: number): Promise<boolean> {
  const touchedAt = await stat(path).then(
    (s) => s.mtimeMs,
    () => undefined, // Released meanwhile: not stale, just gone.
  );
  return touchedAt !== undefined && Date.now() - touchedAt > staleMs;
}

/**
 * Removes a stale lock; true if it did. Two waiters must not both do it (the second would remove the lock
 * the first has just taken), so it happens under a second lock file, and staleness is checked again under it.
 */
async function breakStale(path: string, staleMs: number): Promise<boolean> {
  const breaker = `${path}.break`;
  if (!(await tryCreate(breaker))) {
    // Another waiter is breaking it; a breaker left by a crash is itself removed once stale.
    if (await isStale(breaker, staleMs)) await rm(breaker, { force: true });
    return false;
  }
  try {
    if (!(await isStale(path, staleMs))) return false;
    await rm(path, { force: true });
    return true;
  } finally {
    await rm(breaker, { force: true });
  }
}
