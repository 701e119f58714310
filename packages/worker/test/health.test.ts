import { existsSync, mkdtempSync, readFileSync, rmSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { HealthFile, healthSettings, isHealthy } from '../src/health.ts';

const dir = mkdtempSync(join(tmpdir(), 'obelm-health-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('health file', () => {
  const settings = healthSettings({
    OBELM_HEALTH_FILE: join(dir, 'health'),
    OBELM_POLL_SECONDS: 20,
    OBELM_HEARTBEAT_SECONDS: 30,
  });

  it('allows three times the longest gap between writes, in the tmp folder by default', () => {
    expect(settings.maxAgeMs).toBe(90_000);
    expect(healthSettings({ OBELM_POLL_SECONDS: 0, OBELM_HEARTBEAT_SECONDS: 1 })).toEqual({
      file: join(tmpdir(), 'obelm-worker-health'),
      maxAgeMs: 3000,
    });
  });

  it('is unhealthy while the file is absent, and writes nothing before the worker is ready', async () => {
    const errors: unknown[] = [];
    const health = new HealthFile(settings.file, (error) => errors.push(error));
    await health.beat();
    expect(existsSync(settings.file)).toBe(false);
    expect(await isHealthy(settings)).toBe(false);

    await health.ready();
    expect(readFileSync(settings.file, 'utf8')).toContain(`pid ${process.pid}`);
    expect(await isHealthy(settings)).toBe(true);
    expect(errors).toEqual([]);
  });

  it('is unhealthy once the file is older than the allowed age, and healthy again after a beat', async () => {
    const health = new HealthFile(settings.file, () => {});
    await health.ready();
    const old = new Date(Date.now() - settings.maxAgeMs - 5000);
    utimesSync(settings.file, old, old);
    expect(await isHealthy(settings)).toBe(false);
    expect(await isHealthy(settings, old.getTime() + settings.maxAgeMs / 2)).toBe(true);

    await health.beat();
    expect(await isHealthy(settings)).toBe(true);
  });

  it('reports a write that fails (the check then fails too)', async () => {
    const errors: unknown[] = [];
    const unwritable = new HealthFile(join(dir, 'no-such-folder', 'health'), (error) => errors.push(error));
    await unwritable.ready();
    expect(errors).toEqual([expect.objectContaining({ code: 'ENOENT' })]);
  });
});
