import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { dbKeys } from '@obelm/core';
import { AlreadyRunningError, startLocalStack } from '@obelm/local';
import { afterAll, describe, expect, it } from 'vitest';
import { call } from './helpers.ts';

const dirs: string[] = [];
const tempDir = () => {
  const dir = mkdtempSync(join(tmpdir(), 'obelm-local-'));
  dirs.push(dir);
  return dir;
};
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

describe('the local stack', () => {
  it('keeps jobs across a restart and re-enqueues queued and stale running ones', async () => {
    const dataDir = tempDir();
    const first = await startLocalStack({ dataDir, port: 0 });
    const queued = (await call(first, 'POST', '/v1/jobs', { body: { kind: 'sample', seed: 1 } })).body.id;
    const stale = (await call(first, 'POST', '/v1/jobs', { body: { kind: 'sample', seed: 2 } })).body.id;
    const fresh = (await call(first, 'POST', '/v1/jobs', { body: { kind: 'sample', seed: 3 } })).body.id;
    const markRunning = (id: string, heartbeatAt: string) =>
      first.deps.db.send(
        new UpdateCommand({
          TableName: first.env['OBELM_TABLE'],
          Key: dbKeys.job(id),
          UpdateExpression: 'SET #s = :r, heartbeatAt = :h, progress = :p',
          ExpressionAttributeNames: { '#s': 'status' },
          ExpressionAttributeValues: { ':r': 'running', ':h': heartbeatAt, ':p': { step: 3, of: 20 } },
        }),
      );
    await markRunning(stale, new Date(Date.now() - 10 * 60_000).toISOString());
    await markRunning(fresh, new Date().toISOString());
    const key = first.devKey;
    await first.stop();

    const second = await startLocalStack({ dataDir, port: 0, staleAfterMs: 60_000 });
    try {
      expect(second.devKey).toBe(key);
      expect(second.swept.requeued).toEqual([queued]);
      expect(second.swept.recovered).toEqual([stale]);
      // Back in the queue without the dead run's progress.
      const recovered = (await call(second, 'GET', `/v1/jobs/${stale}`)).body;
      expect(recovered.status).toBe('queued');
      expect(recovered.progress).toBeUndefined();
      expect((await call(second, 'GET', `/v1/jobs/${fresh}`)).body.status).toBe('running');
    } finally {
      await second.stop();
    }
  });

  it('refuses a second stack on the same data folder, and takes over a dead owner’s lock', async () => {
    const dataDir = tempDir();
    const stack = await startLocalStack({ dataDir, port: 0 });
    try {
      await expect(startLocalStack({ dataDir, port: 0 })).rejects.toBeInstanceOf(AlreadyRunningError);
    } finally {
      await stack.stop();
    }
    // A lock left by a process that no longer exists does not block a start.
    const dead = spawnSync(process.execPath, [
      '-e',
      'process.stdout.write(String(process.pid))',
    ]).stdout.toString();
    writeFileSync(join(dataDir, 'obelm.lock'), dead);
    const again = await startLocalStack({ dataDir, port: 0 });
    await again.stop();
  });

  it('npm start exits non-zero with a clear message while another stack runs, and on bad config', async () => {
    const dataDir = tempDir();
    const stack = await startLocalStack({ dataDir, port: 0 });
    try {
      const run = (env: Record<string, string>) =>
        spawnSync(process.execPath, ['--import', 'tsx', 'packages/local/src/main.ts'], {
          env: { ...process.env, OBELM_DATA_DIR: dataDir, OBELM_PORT: '0', OBELM_WORKERS: '0', ...env },
          encoding: 'utf8',
          timeout: 30_000,
        });
      const busy = run({});
      expect(busy.status).toBe(3);
      expect(busy.stderr).toContain('already running');
      const bad = run({ OBELM_PORT: 'eighty' });
      expect(bad.status).toBe(2);
      expect(bad.stderr).toContain('OBELM_PORT');
    } finally {
      await stack.stop();
    }
  });
});
