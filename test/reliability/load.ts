import { createHash } from 'node:crypto';
import type { JobItem, JobView } from '@obelm/core';
import type { LocalStack } from '@obelm/local';
import { download } from '../e2e/helpers.ts';
import { jobObjects, readItem } from './helpers.ts';

/**
 * A bounded load on loopback, shared by the test (small) and the bench (500 jobs): `clients` concurrent clients
 * submit `jobs` jobs in all, each waiting for its job (GET ?wait=) before submitting the next; once `killAfter`
 * jobs have finished, one worker process is SIGKILLed. Requests cycle through `seeds`, so every job has
 * reference bytes: those of the other jobs with its seed.
 */
export interface LoadOptions {
  jobs: number;
  clients: number;
  killAfter: number;
  steps: number;
  seeds: readonly number[];
  /** Gives up (throws) after this long. */
  timeoutMs: number;
}

export interface LoadResult {
  /** Every job as its client last saw it, with its request's seed and its latency (POST -> seen finished). */
  runs: { seed: number; job: JobView; latencyMs: number }[];
  /** First POST -> last job finished. */
  wallMs: number;
  killedPid: number;
}

export async function runLoad(stack: LocalStack, o: LoadOptions): Promise<LoadResult> {
  const headers = { authorization: `Bearer ${stack.devKey}`, 'content-type': 'application/json' };
  const deadline = Date.now() + o.timeoutMs;
  const runs: LoadResult['runs'] = [];
  let next = 0;
  let killedPid: number | undefined;
  const start = performance.now();

  const call = async (path: string, init?: RequestInit): Promise<JobView> => {
    const res = await fetch(`${stack.apiUrl}${path}`, { headers, ...init });
    const body = (await res.json()) as JobView;
    if (res.status >= 300)
      throw new Error(`${init?.method ?? 'GET'} ${path}: ${res.status} ${JSON.stringify(body)}`);
    return body;
  };
  const client = async () => {
    for (let n = next++; n < o.jobs; n = next++) {
      const seed = o.seeds[n % o.seeds.length]!;
      const posted = performance.now();
      const request = { kind: 'sample', prompt: 'white cross', seed, steps: o.steps };
      let job = await call('/v1/jobs', { method: 'POST', body: JSON.stringify(request) });
      while (job.status === 'queued' || job.status === 'running') {
        if (Date.now() > deadline) throw new Error(`load: job ${job.id} still ${job.status} at the deadline`);
        job = await call(`/v1/jobs/${job.id}?wait=5`);
      }
      runs.push({ seed, job, latencyMs: performance.now() - posted });
      if (runs.length >= o.killAfter && killedPid === undefined) {
        killedPid = stack.workerPids()[0]!;
        process.kill(killedPid, 'SIGKILL');
      }
    }
  };
  await Promise.all(Array.from({ length: o.clients }, client));
  if (killedPid === undefined) throw new Error('load: no worker was killed');
  return { runs, wallMs: performance.now() - start, killedPid };
}

export interface LoadCheck {
  items: JobItem[];
  /** Jobs claimed more than once (the one the killed worker held, and any taken back as stale). */
  reclaimed: number;
  /** Problems found; empty when every job succeeded once with its seed's bytes and nothing duplicated. */
  problems: string[];
}

/**
 * Checks a load's outcome: every job succeeded, with one end event; no job was run to completion twice (its
 * item says one owner finished it; claims are counted); every output folder holds one image, one noise file and
 * one report; and jobs with the same seed have byte-identical images and noise files.
 */
export async function checkLoad(stack: LocalStack, result: LoadResult): Promise<LoadCheck> {
  const problems: string[] = [];
  const ids = new Set(result.runs.map((r) => r.job.id));
  if (ids.size !== result.runs.length) problems.push('a job id was returned twice');
  const items: JobItem[] = [];
  const digests = new Map<number, string>();
  const sha = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');
  // A few at a time: the stand-ins share this process with the checks.
  for (let i = 0; i < result.runs.length; i += 16) {
    await Promise.all(
      result.runs.slice(i, i + 16).map(async ({ seed, job }) => {
        const item = await readItem(stack, job.id);
        items.push(item);
        if (item.status !== 'succeeded') return problems.push(`${job.id} ${item.status}`);
        if (item.endEvent?.id !== `evt_${job.id}_succeeded`)
          problems.push(`${job.id} end event ${item.endEvent?.id}`);
        if (item.attempts < 1 || item.attempts > 2) problems.push(`${job.id} claimed ${item.attempts} times`);
        const names = (await jobObjects(stack, job.id)).filter((name) => !name.startsWith('checkpoint'));
        if (names.join() !== 'image.png,noise.safetensors,report.json')
          problems.push(`${job.id} holds ${names}`);
        const [image, noise] = await Promise.all([
          download(job.outputs!.image!.url),
          download(job.outputs!.noise!.url),
        ]);
        const digest = `${sha(image)}/${sha(noise)}`;
        const seen = digests.get(seed) ?? digest;
        digests.set(seed, seen);
        if (seen !== digest)
          problems.push(`${job.id} (seed ${seed}) has other bytes than its seed's first job`);
      }),
    );
  }
  return { items, reclaimed: items.filter((item) => item.attempts > 1).length, problems };
}

/** The q-quantile (0..1) of `xs`, nearest rank. */
export const quantile = (xs: readonly number[], q: number): number => {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
};
