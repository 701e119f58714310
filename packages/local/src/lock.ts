import { closeSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';

export class AlreadyRunningError extends Error {
  override readonly name = 'AlreadyRunningError';
  readonly code = 'already_running';
}

const isAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: the process exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
};

/**
 * One stack per data folder: an exclusive-create lock file holding the owner's pid. A lock left by a dead
 * process (a crash, kill -9) is taken over; a live owner makes this throw AlreadyRunningError.
 * Returns the release function.
 */
export function acquireLock(path: string): () => void {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(path, 'wx');
      writeSync(fd, String(process.pid));
      closeSync(fd);
      return () => rmSync(path, { force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const pid = Number.parseInt(readFileSync(path, 'utf8'), 10);
      if (Number.isInteger(pid) && pid !== process.pid && isAlive(pid)) {
        throw new AlreadyRunningError(
          `Another obelm stack (pid ${pid}) is already running with this data folder (${path}). ` +
            'Stop it first, or set OBELM_DATA_DIR to another folder.',
        );
      }
      if (pid === process.pid) {
        throw new AlreadyRunningError(`This process already runs a stack with the lock ${path}`);
      }
      rmSync(path, { force: true }); // stale: its owner is gone
    }
  }
  throw new AlreadyRunningError(`Could not take the lock ${path}`);
}
