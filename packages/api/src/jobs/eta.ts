import type { JobItem } from '@obelm/core';
import { type ModelPace, modelPace, queueStanding } from '@obelm/store';
import type { Deps } from '../deps.ts';

/**
 * Estimates of when a job starts and ends, from measured step times: a running job's own pace (its steps done
 * since its claim), else its model's recent pace (store modelPace.ts: run time per step of its succeeded jobs).
 * What the job view shows (`queue`, `estimatedFinishAt`) and what the waiting GET schedules its reads by.
 */
export interface JobEstimate {
  /** Queued jobs: 1-based position among the tenant's queued jobs, and when a worker should take it. */
  queue?: { position: number; estimatedStartAt?: string };
  /** When the job should end (epoch ms): a queued one's start plus its run; undefined without a pace. */
  endMs?: number;
  /** When its run started (its claim) or should start (epoch ms), with `endMs`. */
  startMs?: number;
}

/** A model's pace is read at most this often per process: one Query, shared by every estimate meanwhile. */
const PACE_CACHE_MS = 10_000;
const paceCache = new Map<string, { at: number; pace: Promise<ModelPace | undefined> }>();

function cachedPace(deps: Deps, model: string): Promise<ModelPace | undefined> {
  const key = `${deps.store.table}/${model}`;
  const now = Date.now();
  const hit = paceCache.get(key);
  if (hit && now - hit.at < PACE_CACHE_MS) return hit.pace;
  const pace = modelPace(deps.store, model).catch(() => undefined);
  paceCache.set(key, { at: now, pace });
  return pace;
}

/** A running job's own pace: ms per step from its claim to its last progress write (undefined before one). */
function ownPace(job: JobItem): number | undefined {
  if (!job.progress || !job.progressAt || !job.claimedAt) return undefined;
  // A resumed run counts the steps before its checkpoint too: its pace reads fast, its estimate early (the wait
  // then reads a little sooner than needed, never later).
  const elapsed = Date.parse(job.progressAt) - Date.parse(job.claimedAt);
  return job.progress.step > 0 && elapsed >= 0 ? elapsed / job.progress.step : undefined;
}

/** The estimate of a queued or running job (nothing for an ended one). Reads only what the job's status needs. */
export async function estimateJob(deps: Deps, job: JobItem, now = deps.now()): Promise<JobEstimate> {
  if (job.status === 'running') {
    const own = ownPace(job);
    if (own !== undefined && job.progress && job.progressAt) {
      const endMs = Date.parse(job.progressAt) + own * (job.progress.of - job.progress.step);
      return { endMs, startMs: Date.parse(job.claimedAt!) };
    }
    const pace = await cachedPace(deps, job.params.model);
    if (!pace) return {};
    const startMs = Date.parse(job.claimedAt ?? job.updatedAt);
    return { endMs: startMs + pace.msPerStep * job.params.steps, startMs };
  }
  if (job.status !== 'queued') return {};
  const [standing, pace] = await Promise.all([
    queueStanding(deps.store, job),
    cachedPace(deps, job.params.model),
  ]);
  const position = standing.ahead + 1;
  if (!pace) return { queue: { position } };
  const runMs = pace.msPerStep * job.params.steps;
  const startMs = now.getTime() + startDelayMs(standing, runMs);
  return {
    queue: { position, estimatedStartAt: new Date(startMs).toISOString() },
    endMs: startMs + runMs,
    startMs,
  };
}

/**
 * How long until a worker takes a job with `ahead` queued jobs before it, when its tenant has `running` jobs
 * running and each takes `runMs`. The tenant's running jobs are taken as the lanes it gets (its dispatch slots
 * or the fleet's workers, whichever is fewer: with jobs queued, every lane it has is busy), each half done on
 * average. No job queued or running: it starts now.
 */
export function startDelayMs({ ahead, running }: { ahead: number; running: number }, runMs: number): number {
  if (ahead === 0 && running === 0) return 0;
  const lanes = Math.max(1, running);
  return ((ahead + 0.5) * runMs) / lanes;
}
