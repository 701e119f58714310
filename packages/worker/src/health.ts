/**
 * The container health check: the running worker touches a file once its model is loaded and then on every
 * poll and, while a job runs, every heartbeat; `main.ts --health` (the task definition's healthCheck) passes
 * while that file is fresh. A worker that died, hangs or never got its model ready fails it, and ECS replaces
 * the task.
 */
import { stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WorkerConfigSchema } from '@obelm/core';

/** The settings `--health` reads: the container's environment holds them, as it holds the worker's. */
export const HealthConfigSchema = WorkerConfigSchema.pick({
  OBELM_HEALTH_FILE: true,
  OBELM_POLL_SECONDS: true,
  OBELM_HEARTBEAT_SECONDS: true,
});

export interface HealthSettings {
  readonly file: string;
  /** The age past which the file says the worker is not alive. */
  readonly maxAgeMs: number;
}

/**
 * The health file and its allowed age: three times the longest gap between two writes (a poll or a job's
 * heartbeat), so one slow poll does not fail the check but a loop stuck for minutes does.
 */
export function healthSettings(config: {
  readonly OBELM_HEALTH_FILE?: string | undefined;
  readonly OBELM_POLL_SECONDS: number;
  readonly OBELM_HEARTBEAT_SECONDS: number;
}): HealthSettings {
  return {
    file: config.OBELM_HEALTH_FILE ?? join(tmpdir(), 'obelm-worker-health'),
    maxAgeMs: 3 * Math.max(config.OBELM_POLL_SECONDS, config.OBELM_HEARTBEAT_SECONDS) * 1000,
  };
}

/** Whether the file was written within `maxAgeMs` of `now`; a missing file is not. */
export async function isHealthy(settings: HealthSettings, now = Date.now()): Promise<boolean> {
  try {
    const { mtimeMs } = await stat(settings.file);
    return now - mtimeMs <= settings.maxAgeMs;
  } catch {
    return false;
  }
}

/**
 * The running worker's side: silent until ready() (its model preload succeeded), then every beat() rewrites
 * the file. A failed write goes to `onError` (the check then fails, which is the truth: nobody can tell this
 * worker is alive).
 */
export class HealthFile {
  private isReady = false;
  private writing = false;

  constructor(
    readonly file: string,
    private readonly onError: (error: unknown) => void,
  ) {}

  ready(): Promise<void> {
    this.isReady = true;
    return this.beat();
  }

  async beat(): Promise<void> {
    if (!this.isReady || this.writing) return; // a write in flight stamps this moment well enough
    this.writing = true;
    try {
      await writeFile(this.file, `${new Date().toISOString()} pid ${process.pid}\n`);
    } catch (error) {
      this.onError(error);
    } finally {
      this.writing = false;
    }
  }
}
