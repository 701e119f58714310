import { hostname } from 'node:os';
import {
  createLogger,
  describeError,
  endedJobKeepSeconds,
  type Logger,
  newId,
  type WorkerConfig,
} from '@obelm/core';
import { storeContext } from '@obelm/store';
import { BlobStore } from './aws/blobs.ts';
import { type AwsClients, createAwsClients, destroyAwsClients } from './aws/clients.ts';
import { TaskProtection } from './aws/taskProtection.ts';
import { loadModelBundle } from './bundles/bundles.ts';
import { ModelCache, type ModelLoader } from './bundles/modelCache.ts';
import { executeJob } from './job/execute.ts';
import { pipelineRunner } from './job/pipelines.ts';
import type { JobRunner } from './job/runner.ts';
import { claimFromMessage } from './queue/claim.ts';
import { JobLease } from './queue/lease.ts';
import { JobQueue, type ReceivedMessage } from './queue/queue.ts';

export interface WorkerOptions {
  /** Loads a model bundle by id; by default the models package's loader with the configured provider. */
  readonly loadModel?: ModelLoader;
  /** Runs a job's pipeline; by default the engine pipelines for each kind. */
  readonly runner?: JobRunner;
  readonly clients?: AwsClients;
  readonly log?: Logger;
  /** Called at every poll and, while a job runs, every heartbeat: main.ts touches the health file from it. */
  readonly alive?: () => void;
}

export interface RunningWorker {
  readonly workerId: string;
  /**
   * Stops polling (a long poll in progress ends first, within OBELM_POLL_SECONDS). A job in progress finishes if it can within OBELM_STOP_GRACE_SECONDS; otherwise
   * (or when the grace period runs out) it is checkpointed and re-queued. Resolves when the worker is idle.
   */
  stop(): Promise<void>;
  /**
   * Resolves when the worker has stopped (after stop()), or rejects with a fatal error: a model that cannot
   * load because of this machine (the bundles' isHostFault), after the job in hand went back to the queue.
   */
  readonly done: Promise<void>;
}

/** One model cache per process and loader: bundles load once, however many workers run in-process. */
const customCaches = new WeakMap<ModelLoader, ModelCache>();
const defaultCaches = new Map<string, ModelCache>();

function modelCacheFor(config: WorkerConfig, loader: ModelLoader | undefined): ModelCache {
  if (loader) {
    const cache = customCaches.get(loader) ?? new ModelCache(loader);
    customCaches.set(loader, cache);
    return cache;
  }
  const key = [
    config.OBELM_PROVIDER,
    config.OBELM_PROVIDER_FALLBACK,
    config.OBELM_THREADS,
    config.OBELM_MODEL_CACHE ?? '',
  ].join('|');
  const cache = defaultCaches.get(key) ?? new ModelCache((id) => loadModelBundle(id, config));
  defaultCaches.set(key, cache);
  return cache;
}

/** Loads a model into the process's shared cache ahead of its first job (main.ts: OBELM_MODEL_BUNDLE). */
export function preloadModel(config: WorkerConfig, id: string): Promise<unknown> {
  return modelCacheFor(config, undefined).get(id);
}

/** Starts the jobs-queue consumer: one job at a time, until stop(). */
export function startWorker(config: WorkerConfig, options: WorkerOptions = {}): RunningWorker {
  const workerId = config.OBELM_WORKER_ID ?? `${hostname()}-${process.pid}-${newId('w').slice(-6)}`;
  const log = options.log ?? createLogger('worker', { workerId });
  const clients = options.clients ?? createAwsClients();
  // The table and queue as the store package works them: job transitions, and what follows a job's end
  // (its usage entry, its tenant's held jobs released: store outbox.ts).
  const store = storeContext({
    db: clients.db,
    sqs: clients.sqs,
    table: config.OBELM_TABLE,
    jobsQueueUrl: config.OBELM_JOBS_QUEUE_URL,
    webhooksQueueUrl: config.OBELM_WEBHOOKS_QUEUE_URL,
    s3: clients.s3,
    bucket: config.OBELM_BUCKET,
    defaultLimits: config.OBELM_TENANT_LIMITS,
    log,
  });
  const { jobs } = store;
  const queue = new JobQueue(clients.sqs, config.OBELM_JOBS_QUEUE_URL);
  const blobs = new BlobStore(clients.s3, config.OBELM_BUCKET);
  const models = modelCacheFor(config, options.loadModel);
  const protection = new TaskProtection(process.env['ECS_AGENT_URI'], log);
  const alive = options.alive ?? (() => {});

  const heartbeatSeconds = config.OBELM_HEARTBEAT_SECONDS;
  const shared = {
    store,
    jobs,
    queue,
    workerId,
    heartbeatSeconds,
    endedKeepSeconds: endedJobKeepSeconds(config.OBELM_OUTPUT_RETENTION_DAYS),
    log,
  };
  const claimDeps = { ...shared, maxAttempts: config.OBELM_MAX_ATTEMPTS };
  const executeDeps = {
    ...shared,
    blobs,
    models,
    runner: options.runner ?? pipelineRunner,
    checkpointSeconds: config.OBELM_CHECKPOINT_SECONDS,
    stepDelayMs: config.OBELM_TEST_STEP_DELAY_MS,
  };

  const polling = new AbortController();
  let current: JobLease | undefined;
  let stopping: Promise<void> | undefined;

  async function handle(message: ReceivedMessage): Promise<void> {
    const result = await claimFromMessage(claimDeps, message);
    if (!result.claimed) {
      log.info('message settled without a run', { messageId: message.id, outcome: result.outcome });
      return;
    }
    const job = result.claimed;
    // Every line about the job, from here and from what runs it, carries its id and tenant.
    const jobLog = log.child({ jobId: job.id, tenant: job.tenant });
    const lease = new JobLease({
      jobs,
      queue,
      message,
      jobId: job.id,
      workerId,
      heartbeatSeconds,
      log: jobLog,
    });
    current = lease;
    protection.hold();
    const beating = setInterval(alive, heartbeatSeconds * 1000);
    // A stop that came while we were claiming applies to this job too.
    if (polling.signal.aborted) lease.abort('checkpoint');
    jobLog.info('job started', { kind: job.params.kind, attempt: job.attempts });
    try {
      const outcome = await executeJob({ ...executeDeps, log: jobLog }, job, message, lease);
      jobLog.info('job ended', { outcome });
    } finally {
      clearInterval(beating);
      current = undefined;
      await lease.close();
      void protection.release(); // not awaited: the next job need not wait for the agent
    }
  }

  async function loop(): Promise<void> {
    log.info('worker started', { queue: config.OBELM_JOBS_QUEUE_URL });
    let failures = 0;
    while (!polling.signal.aborted) {
      alive();
      try {
        // stop() lets a poll in progress end (within OBELM_POLL_SECONDS) rather than abort it: an abandoned
        // long poll can still take a message server-side and hide it for three heartbeats. What a poll brings
        // after stop() goes straight back to the queue.
        const message = await queue.receive(config.OBELM_POLL_SECONDS, heartbeatSeconds * 3);
        if (message && polling.signal.aborted) await queue.setVisibility(message, 0);
        else if (message) await handle(message);
        failures = 0;
      } catch (error) {
        // AWS unreachable or throttled: back off and keep going; the job (if any) is retried via its message.
        const retryInMs = loopBackoffMs(++failures);
        log.error('worker loop error', {
          ...describeError(error),
          failures,
          retryInMs: Math.round(retryInMs),
        });
        await sleep(retryInMs, polling.signal);
      }
    }
    if (!options.clients) destroyAwsClients(clients);
    log.info('worker stopped');
  }

  // Every job would fail the same way on this machine (no GPU provider): stop, and the job in hand is
  // checkpointed back to the queue (stop() aborts its lease before its model load rejects) for another machine.
  let hostFault: unknown;
  const unwatch = models.onHostFault((error) => {
    hostFault ??= error;
    stop().catch(() => {}); // `done` carries the error
  });
  const done = loop()
    .finally(unwatch)
    .then(() => {
      if (hostFault !== undefined) throw hostFault;
    });

  function stop(): Promise<void> {
    stopping ??= (async () => {
      polling.abort();
      const lease = current;
      if (lease) {
        const graceMs = config.OBELM_STOP_GRACE_SECONDS * 1000;
        const remainingMs = lease.estimateRemainingMs();
        if (remainingMs === undefined || remainingMs > graceMs) {
          log.info('stopping: checkpointing the current job', { remainingMs });
          lease.abort('checkpoint');
        } else {
          log.info('stopping: finishing the current job first', { remainingMs });
          const deadline = setTimeout(() => lease.abort('checkpoint'), graceMs);
          try {
            await done;
          } finally {
            clearTimeout(deadline);
          }
        }
      }
      await done;
    })();
    return stopping;
  }

  return { workerId, stop, done };
}

/** The consumer loop's retry delay after consecutive errors: doubling from 250 ms up to 5 s. */
const LOOP_BACKOFF = { firstMs: 250, maxMs: 5000 };

/**
 * The delay before retry `failures` (1, 2, ...), with equal jitter (half fixed, half random), so the workers
 * that lost a service together do not all come back to it at the same instant.
 */
function loopBackoffMs(failures: number): number {
  const ceiling = Math.min(LOOP_BACKOFF.maxMs, LOOP_BACKOFF.firstMs * 2 ** (failures - 1));
  return ceiling / 2 + (Math.random() * ceiling) / 2;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  // The listener goes with the sleep: an outage's many retries must not pile listeners onto one signal.
  return new Promise((resolve) => {
    if (signal.aborted) return resolve(); // stop() came during the failed call: no backoff to wait out
    const wake = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', wake);
      resolve();
    };
    const timer = setTimeout(wake, ms);
    signal.addEventListener('abort', wake, { once: true });
  });
}
