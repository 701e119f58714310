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
import { AdmissionGroup, ModelSlots, type SlotTicket } from './job/modelSlots.ts';
import { pipelineRunner } from './job/pipelines.ts';
import type { JobRunner } from './job/runner.ts';
import { offPathTurn } from './offPathTurns.ts';
import { claimFromMessage } from './queue/claim.ts';
import { JobLease } from './queue/lease.ts';
import { JobQueue, MAX_RECEIVE, type ReceivedMessage } from './queue/queue.ts';

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
   * Stops polling (a long poll in progress ends first, within OBELM_POLL_SECONDS). Each job in its pipeline
   * finishes if it can within OBELM_STOP_GRACE_SECONDS; otherwise (or when the grace period runs out) it is
   * checkpointed and re-queued. A prefetched job not yet started goes back to the queue as it is, and one past
   * its pipeline finishes. Resolves when the worker is idle.
   */
  stop(): Promise<void>;
  /**
   * Resolves when the worker has stopped (after stop()), or rejects with a fatal error: a model that cannot
   * load because of this machine (the bundles' isHostFault), after every job in hand went back to the queue.
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

/**
 * Starts the jobs-queue consumer: up to OBELM_WORKER_SLOTS jobs run their pipelines at once (their model calls
 * merged by the model's batcher), a full call's worth more are claimed and prefetched to take the slots as they
 * free (jobs waiting together are received, claimed and admitted into the model together), and a job's finish
 * (outputs, report, final update, delete) runs off the model's path; until stop().
 */
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
  const slots = new ModelSlots(config.OBELM_WORKER_SLOTS);

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
    maxBatchRows: config.OBELM_MAX_BATCH_ROWS,
  };

  const polling = new AbortController();
  /** Every claimed job until it has ended: its lease, and where it is (prefetching, in the model, finishing). */
  const inFlight = new Map<JobLease, SlotTicket>();
  const running = new Set<Promise<void>>();
  let beating: NodeJS.Timeout | undefined;
  let stopping: Promise<void> | undefined;

  /**
   * Jobs claimed ahead of the slots: those of one full model call (a guided job brings 2 rows a call: engine
   * cfg.ts), at most a slots' worth. Jobs that run together leave the model together; the group ahead then enters
   * at once, together, rather than one prefetched job alone while the next ones are claimed behind the first
   * group's writes. No more: a job claimed here is one another worker cannot start.
   */
  const ahead = Math.min(slots.size, Math.ceil(config.OBELM_MAX_BATCH_ROWS / 2));

  /**
   * How many messages to receive now: enough for the free slots and the jobs ahead of them (claimed, model and
   * inputs loaded), never more, so no message waits unclaimed. None while two slots' worth of jobs are finishing
   * (32 by default: the store is slow, and the model waits rather than outputs piling up in memory; an SD job's
   * outputs are about 1 MB).
   */
  const room = () =>
    slots.count('finishing') < 2 * slots.size
      ? Math.min(MAX_RECEIVE, slots.size + ahead - slots.count('prefetching') - slots.count('model'))
      : 0;

  /** A job is in flight: the task stays protected, and the health file fresh, until the last one ends. */
  function hold(): void {
    protection.hold();
    beating ??= setInterval(alive, heartbeatSeconds * 1000);
  }
  function release(): void {
    if (inFlight.size === 0) {
      clearInterval(beating);
      beating = undefined;
    }
    void protection.release(); // not awaited: the next job need not wait for the agent
  }

  async function handle(message: ReceivedMessage, group?: AdmissionGroup): Promise<void> {
    // A receive's claims go out while the model runs the jobs ahead of them: each in a turn of its own.
    await offPathTurn();
    const result = await claimFromMessage(claimDeps, message).catch((error: unknown) => {
      group?.gone();
      throw error;
    });
    if (!result.claimed) {
      group?.gone();
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
    const slot = slots.ticket(group);
    inFlight.set(lease, slot);
    hold();
    // A stop (or host fault) that came while we were claiming applies to this job too.
    if (polling.signal.aborted) lease.abort('checkpoint');
    jobLog.info('job started', { kind: job.params.kind, attempt: job.attempts });
    const run = executeJob({ ...executeDeps, log: jobLog }, job, message, lease, slot)
      .then(
        (outcome) => jobLog.info('job ended', { outcome }),
        // Settling itself failed (the store unreachable): the message comes back when its visibility runs out.
        (error: unknown) => jobLog.error('job not settled', describeError(error)),
      )
      .finally(async () => {
        inFlight.delete(lease);
        await lease.close();
        release();
        running.delete(run);
      });
    running.add(run);
  }

  /**
   * Claims the messages of one receive all at once (jobs submitted together start together, not one claim's
   * round trip apart, and into the model as one group: modelSlots.ts AdmissionGroup); a claim that fails leaves
   * its message to come back, and the first failure goes to the loop's backoff once every claim has settled.
   */
  async function handleAll(messages: readonly ReceivedMessage[]): Promise<void> {
    const group =
      messages.length > 1 ? new AdmissionGroup(messages.length, config.OBELM_ADMISSION_HOLD_MS) : undefined;
    const results = await Promise.allSettled(messages.map((message) => handle(message, group)));
    const failed = results.find((result) => result.status === 'rejected');
    if (failed) throw failed.reason;
  }

  async function loop(): Promise<void> {
    log.info('worker started', {
      queue: config.OBELM_JOBS_QUEUE_URL,
      slots: config.OBELM_WORKER_SLOTS,
      maxBatchRows: config.OBELM_MAX_BATCH_ROWS,
    });
    let failures = 0;
    while (!polling.signal.aborted) {
      alive();
      const max = room();
      if (max < 1) {
        await slots.nextChange(); // stop() wakes it too
        continue;
      }
      try {
        // stop() lets a poll in progress end (within OBELM_POLL_SECONDS) rather than abort it: an abandoned
        // long poll can still take a message server-side and hide it for three heartbeats. What a poll brings
        // after stop() goes straight back to the queue.
        const messages = await queue.receiveReady(max, config.OBELM_POLL_SECONDS, heartbeatSeconds * 3);
        if (polling.signal.aborted) await Promise.all(messages.map((m) => queue.setVisibility(m, 0)));
        else await handleAll(messages);
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
    while (running.size > 0) await Promise.all(running);
    if (!options.clients) destroyAwsClients(clients);
    log.info('worker stopped');
  }

  // Every job would fail the same way on this machine (no GPU provider): stop, and every job in hand is
  // checkpointed back to the queue (its lease aborted before its model load rejects) for another machine.
  let hostFault: unknown;
  const unwatch = models.onHostFault((error) => {
    hostFault ??= error;
    for (const lease of inFlight.keys()) lease.abort('checkpoint');
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
      slots.wake();
      const graceMs = config.OBELM_STOP_GRACE_SECONDS * 1000;
      for (const [lease, slot] of inFlight) {
        // Finishing: past the model, its writes take moments. Prefetched: handed back as it is, not started.
        if (slot.phase === 'finishing') continue;
        const remainingMs = slot.phase === 'model' ? lease.estimateRemainingMs() : undefined;
        if (remainingMs === undefined || remainingMs > graceMs) {
          log.info('stopping: checkpointing a job', { jobId: lease.jobId, phase: slot.phase, remainingMs });
          lease.abort('checkpoint');
        } else {
          log.info('stopping: finishing a job first', { jobId: lease.jobId, remainingMs });
        }
      }
      const deadline = setTimeout(() => {
        for (const lease of inFlight.keys()) lease.abort('checkpoint');
      }, graceMs);
      try {
        await done;
      } finally {
        clearTimeout(deadline);
      }
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
