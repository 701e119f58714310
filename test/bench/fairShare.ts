/**
 * Fair share benchmark through the local stack (real HTTP, S3/SQS/DynamoDB stand-ins, one worker process), from
 * one run: how long tenant B's job waits to start (its submission -> the worker's claim, `startedAt`) with no
 * backlog, and with tenant A's 60-job backlog submitted just before it; how many of A's jobs started in between;
 * the ratio; and, for scale, what B would wait behind the same backlog in one first-in-first-out queue (A's jobs
 * still waiting at B's submission x A's measured time per job). Both tenants have the stage's default limits.
 * Bounded: fixed job counts and a hard deadline; 127.0.0.1 only. Run: npx tsx test/bench/fairShare.ts (or npm
 * run bench).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { JobView } from '@obelm/core';
import { type LocalStack, startLocalStack } from '@obelm/local';
import { ensureDemoBundle } from '@obelm/models';
import { createKey, createTenant } from '@obelm/store';
import { TEST_WORKER_ENV } from '../e2e/helpers.ts';

// The bench runs on Node 20 here; the AWS SDK's Node-version notice and the services' info lines would only
// clutter the table.
process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] ??= 'true';
process.env['OBELM_LOG_LEVEL'] ??= 'ERROR';

const BACKLOG = 60;
const ROUNDS = 3;
const STEPS = 8;
const WORKERS = 1;

const deadline = setTimeout(() => {
  console.error('bench: hard deadline (240 s) reached');
  process.exit(1);
}, 240_000);

const median = (xs: readonly number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const at = (iso: string | undefined) => Date.parse(iso!);

/** One round's figures for B's job. */
interface Wait {
  /** B's createdAt -> startedAt, both stamped by the stack's clock. */
  waitMs: number;
  /** A's jobs that had not started when B was submitted and started before B. */
  aheadOfB: number;
  /** A's jobs that had not started when B was submitted. */
  aWaiting: number;
  /** A's mean time per job on the worker, start to start (0 without a backlog). */
  aPerJobMs: number;
}

async function main() {
  const dataDir = mkdtempSync(join(tmpdir(), 'obelm-bench-fair-'));
  const modelCache = join(dataDir, 'models');
  await ensureDemoBundle(modelCache);
  const stack = await startLocalStack({
    dataDir,
    port: 0,
    worker: WORKERS,
    // No periodic sweep: held jobs are released by the ends of their tenant's jobs alone.
    sweepEverySeconds: 0,
    workerEnv: { ...TEST_WORKER_ENV, OBELM_MODEL_CACHE: modelCache },
  });
  try {
    const a = await tenantClient(stack, 'bench-a');
    const b = await tenantClient(stack, 'bench-b');
    await b.wait(await b.submit()); // warm-up: the worker loads the model, connections open

    const alone: Wait[] = [];
    const behind: Wait[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      alone.push(await waitOfB(a, b, 0));
      behind.push(await waitOfB(a, b, BACKLOG));
    }
    const parallelJobs = stack.deps.config.OBELM_TENANT_LIMITS.parallelJobs;
    const fifoMs = median(behind.map((w) => w.aWaiting * w.aPerJobMs));
    const rows: [string, string, string][] = [
      ['', 'no backlog', `A's ${BACKLOG}-job backlog`],
      [
        `B's wait, submit -> start (median of ${ROUNDS})`,
        `${median(alone.map((w) => w.waitMs)).toFixed(0)} ms`,
        `${median(behind.map((w) => w.waitMs)).toFixed(0)} ms`,
      ],
      [
        "A's jobs started before B's (most in a round)",
        String(Math.max(...alone.map((w) => w.aheadOfB))),
        String(Math.max(...behind.map((w) => w.aheadOfB))),
      ],
      [
        'ratio of the waits (backlog / none)',
        '',
        (median(behind.map((w) => w.waitMs)) / Math.max(1, median(alone.map((w) => w.waitMs)))).toFixed(2),
      ],
      ["A's jobs still waiting when B submitted (median)", '', String(median(behind.map((w) => w.aWaiting)))],
      ["B's wait behind them in one FIFO queue (estimate)", '', `${fifoMs.toFixed(0)} ms`],
    ];
    const widths = [0, 1, 2].map((c) => Math.max(...rows.map((r) => r[c]!.length)));
    console.log(
      `\nfair share benchmark (demo bundle, ${STEPS} steps, ${WORKERS} worker, parallelJobs ${parallelJobs}, CPU)\n`,
    );
    for (const row of rows) console.log(row.map((cell, c) => cell.padEnd(widths[c]!)).join('  '));
    console.log(
      `\nbound checked by test/local/fairShare.test.ts: at most parallelJobs + workers = ${parallelJobs + WORKERS}`,
    );
  } finally {
    await stack.stop();
    rmSync(dataDir, { recursive: true, force: true });
    clearTimeout(deadline);
  }
}

/** A's `backlog` jobs one after another, then B's one; every job to its end. */
async function waitOfB(a: TenantClient, b: TenantClient, backlog: number): Promise<Wait> {
  const aJobs: string[] = [];
  for (let i = 0; i < backlog; i++) aJobs.push(await a.submit());
  const bDone = await b.wait(await b.submit());
  const aDone = await Promise.all(aJobs.map((id) => a.wait(id)));
  const submitted = at(bDone.createdAt);
  const started = at(bDone.startedAt);
  const waiting = aDone.filter((j) => at(j.startedAt) >= submitted);
  const starts = aDone.map((j) => at(j.startedAt)).sort((x, y) => x - y);
  return {
    waitMs: started - submitted,
    aheadOfB: waiting.filter((j) => at(j.startedAt) < started).length,
    aWaiting: waiting.length,
    // B's own run sits among A's starts; leave it out of A's pace.
    aPerJobMs:
      starts.length > 1
        ? (starts.at(-1)! - starts[0]! - (at(bDone.finishedAt) - started)) / (starts.length - 1)
        : 0,
  };
}

interface TenantClient {
  submit(): Promise<string>;
  wait(id: string): Promise<JobView>;
}

/** A new tenant with the stage's default limits and a key, as `obelm admin` makes them. */
async function tenantClient(stack: LocalStack, tenant: string): Promise<TenantClient> {
  await createTenant(stack.deps.store, tenant);
  const { key } = await createKey(stack.deps.store, tenant);
  const headers = { authorization: `Bearer ${key}`, 'content-type': 'application/json' };
  return {
    submit: async () => {
      const res = await fetch(`${stack.apiUrl}/v1/jobs`, {
        method: 'POST',
        headers,
        body: JSON.stringify({ kind: 'sample', steps: STEPS }),
      });
      const body = (await res.json()) as JobView;
      if (res.status !== 202) throw new Error(`create: ${res.status} ${JSON.stringify(body)}`);
      return body.id;
    },
    wait: async (id) => {
      for (;;) {
        const res = await fetch(`${stack.apiUrl}/v1/jobs/${id}?wait=20`, { headers });
        const job = (await res.json()) as JobView;
        if (job.status === 'queued' || job.status === 'running') continue;
        if (job.status !== 'succeeded')
          throw new Error(`job ${id} ${job.status}: ${JSON.stringify(job.error)}`);
        return job;
      }
    },
  };
}

await main();
