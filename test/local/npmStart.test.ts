import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isAlive, removeTempDirs, tempDir, waitFor } from './helpers.ts';

afterAll(removeTempDirs);

const childrenOf = (pid: number): number[] => {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8')
      .trim()
      .split(/\s+/)
      .filter(Boolean)
      .map(Number);
  } catch {
    return [];
  }
};

describe('npm start', () => {
  it('SIGTERM to the npm process stops the stack and its worker and releases the lock', async () => {
    const dataDir = tempDir();
    const npm = spawn('npm', ['start', '--silent'], {
      env: {
        ...process.env,
        OBELM_DATA_DIR: dataDir,
        OBELM_PORT: '0',
        OBELM_WORKERS: '1',
        OBELM_POLL_SECONDS: '1',
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const exited = new Promise<void>((resolve) => npm.once('exit', () => resolve()));
    let out = '';
    npm.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      out += chunk;
    });
    const lock = join(dataDir, 'obelm.lock');
    const pids: number[] = [];
    try {
      await waitFor(
        'the API URL and a started worker',
        () => /API: +http/.test(out) && out.includes('"worker started"'),
        60_000,
      );
      // npm runs the script with exec, so the stack is npm's own child; the worker is the stack's.
      const stackPid = Number(readFileSync(lock, 'utf8'));
      expect(childrenOf(npm.pid!)).toEqual([stackPid]);
      pids.push(stackPid, ...childrenOf(stackPid));
      expect(pids).toHaveLength(2);

      npm.kill('SIGTERM');
      await exited;
      expect(out).toContain('SIGTERM, stopping');
      expect(existsSync(lock)).toBe(false);
      for (const pid of pids) expect(isAlive(pid)).toBe(false);
    } finally {
      npm.kill('SIGKILL');
      for (const pid of pids) if (isAlive(pid)) process.kill(pid, 'SIGKILL');
    }
  });

  it('a busy port is one line and exit code 4, not a stack trace', async () => {
    const dataDir = tempDir();
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const port = (taken.address() as { port: number }).port;
    try {
      const run = spawnSync(process.execPath, ['--import', 'tsx', 'packages/local/src/main.ts'], {
        env: { ...process.env, OBELM_DATA_DIR: dataDir, OBELM_PORT: String(port), OBELM_WORKERS: '0' },
        encoding: 'utf8',
        timeout: 30_000,
      });
      expect(run.status).toBe(4);
      const stderr = run.stderr.split('\n').filter((line) => line.startsWith('obelm:'));
      expect(stderr).toEqual([
        `obelm: port ${port} on 127.0.0.1 is in use: set OBELM_PORT to another port (0: any free one) or stop the other process`,
      ]);
      expect(run.stderr).not.toMatch(/^\s+at /m);
      expect(existsSync(join(dataDir, 'obelm.lock'))).toBe(false);
    } finally {
      await new Promise((resolve) => taken.close(resolve));
    }
  });
});
