import { chmodSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { SQSClient } from '@aws-sdk/client-sqs';
import {
  buildBatchTrigger,
  buildWebhookDispatcher,
  createDeps,
  type Deps,
  ROUTES,
  type SweepReport,
  sweepJobs,
} from '@obelm/api';
import {
  staleAfterMs as coreStaleAfterMs,
  createLogger,
  LOCAL_STACK_FILE,
  type LocalStackFile,
  QUEUES,
  type TenantLimitsOverride,
} from '@obelm/core';
import { catalogEntryOf, demoManifest } from '@obelm/models';
import { publishModel } from '@obelm/store';
import { createApiServer } from './adapter.ts';
import { ensureDevKey } from './devKey.ts';
import { listen } from './listen.ts';
import { acquireLock } from './lock.ts';
import { startPeriodicSweep } from './periodicSweep.ts';
import { playgroundSite } from './playground.ts';
import {
  deadLetterQueueUrl,
  ensureBucket,
  ensureQueueWithDlq,
  ensureTable,
  ensureTenant,
} from './provision.ts';
import { startQueueConsumer } from './queueConsumer.ts';
import { type RestartableStandIn, restartable } from './restartable.ts';
import { type S3EventBridge, startS3EventBridge } from './s3Events.ts';
import { ensureSecretsKey } from './secretsKey.ts';
import { browserOriginsOf, closeServer, startDynamo, startS3, startSqs } from './standins.ts';
import { startWorkerProcesses } from './workers.ts';

export interface LocalStackOptions {
  /**
   * Where S3 objects, the DynamoDB store, the dev key, the lock and, while the stack runs, its discovery file
   * (core `LOCAL_STACK_FILE`, read by the `obelm` command line) live. Default `.obelm` under the cwd.
   */
  dataDir?: string;
  /** API port; 0 picks a free one. Default 8787. */
  port?: number;
  host?: string;
  /** Worker processes: false/0 none, true one, or a count. Default none. */
  worker?: boolean | number;
  /** The dev tenant's key (core's format); by default the one kept in the data folder, created at first start. */
  devApiKey?: string;
  /** The dev tenant, created at first start. Default 'dev'. */
  tenant?: string;
  /**
   * Service settings of the API and the workers (packages/core/src/config.ts), e.g. OBELM_TENANT_LIMITS or
   * OBELM_PRICES as JSON; validated as the cloud's are. OBELM_TENANT_LIMITS defaults to LOCAL_TENANT_LIMITS.
   */
  serviceEnv?: Record<string, string>;
  /**
   * A running job without a heartbeat for this long is re-queued (at start and by the periodic sweep).
   * Default: core's rule (two missed heartbeats) at the workers' OBELM_HEARTBEAT_SECONDS.
   */
  staleAfterMs?: number;
  /** Seconds between sweeps after the start-up one (as the cloud's cron); 0: none. Default 30. */
  sweepEverySeconds?: number;
  /** Extra variables for the worker processes (e.g. OBELM_TEST_STEP_DELAY_MS). */
  workerEnv?: Record<string, string>;
  /**
   * A JavaScript file the worker processes run with plain node, instead of the worker's TypeScript main through
   * tsx: a prebuilt worker bundle, as tests use.
   */
  workerScript?: string;
  /** Long-poll wait of the queue consumers (queueConsumer.ts), 0..20 s: what stop() may wait for. Default 10. */
  queuePollSeconds?: number;
}

export interface LocalStack {
  apiUrl: string;
  devKey: string;
  /** Why the key kept in the data folder was replaced by `devKey` at this start, if it was. */
  devKeyReplaced?: string;
  tenant: string;
  dataDir: string;
  /** What a worker (or any AWS SDK client) in another process needs: endpoints, names, credentials. */
  env: Record<string, string>;
  /** The API's clients and config, for tests that inspect or arrange state directly. */
  deps: Deps;
  /** What the start-up reconciliation re-enqueued, recovered or expired. */
  swept: SweepReport;
  /** Worker slots (each restarted when its process exits). */
  workers: number;
  /** Pids of the worker processes alive now. */
  workerPids(): number[];
  /** Worker processes restarted after an exit, so far. */
  workerRestarts(): number;
  /**
   * The stand-ins, to stop and start again on the same endpoint (outage tests). S3 and DynamoDB keep their data
   * on disk; SQS is in memory, so its start re-creates the queues and re-sends every queued job's message.
   */
  standIns: Record<'s3' | 'sqs' | 'dynamo', RestartableStandIn>;
  /** Stops the periodic sweep and worker supervision, then the workers, the API and the stand-ins. */
  stop(): Promise<void>;
}

const NAMES = {
  bucket: 'obelm-local',
  table: 'obelm-local',
  jobs: 'obelm-jobs',
  webhooks: 'obelm-webhooks',
  batch: 'obelm-batch',
};

/**
 * The local stage's default tenant limits, over core's: a development machine and its tests poll the API far
 * faster than a client is allowed to in the cloud. A tenant's own limits (`obelm admin set-limits`) apply as there.
 */
export const LOCAL_TENANT_LIMITS: TenantLimitsOverride = { requestsPerSecond: 1000 };

/**
 * The whole service on one machine: S3, SQS and DynamoDB stand-ins on 127.0.0.1, the API handlers behind an
 * API Gateway-like HTTP adapter, and supervised worker processes (workers.ts). Everything but the queues
 * persists under `dataDir`; queued and stale running jobs are re-enqueued at start and then periodically, as the
 * cloud's sweeper does (sweeper.ts). One stack per data folder (lock file).
 */
export async function startLocalStack(options: LocalStackOptions = {}): Promise<LocalStack> {
  const dataDir = resolve(options.dataDir ?? '.obelm');
  const host = options.host ?? '127.0.0.1';
  mkdirSync(dataDir, { recursive: true });
  const releaseLock = acquireLock(join(dataDir, 'obelm.lock'));

  const stops: (() => Promise<void>)[] = [async () => releaseLock()];
  const stopAll = async () => {
    for (const stop of stops.splice(0).reverse()) await stop().catch((err) => console.error(err));
  };
  const started = async (standIn: Promise<RestartableStandIn>) => {
    const s = await standIn;
    stops.push(() => s.stop());
    return s;
  };
  const log = createLogger('local');

  try {
    // The bucket's notification to the batch queue (s3Events.ts), bound once the queue exists.
    let s3Events: S3EventBridge | undefined;
    // The browser origins the S3 stand-in answers CORS for, as the cloud bucket's rule: the API's, once it listens.
    const s3CorsOrigins: string[] = [];
    const s3 = await started(
      restartable((port) =>
        startS3(
          join(dataDir, 's3'),
          port,
          (event) => s3Events?.onEvent(event),
          () => s3CorsOrigins,
        ),
      ),
    );
    const sqs = await started(restartable(startSqs));
    const dynamo = await started(restartable((port) => startDynamo(join(dataDir, 'dynamodb'), port)));
    const tenant = options.tenant ?? 'dev';

    // s3rver knows one account (S3RVER/S3RVER); the other stand-ins accept any credentials.
    const awsEnv = {
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'S3RVER',
      AWS_SECRET_ACCESS_KEY: 'S3RVER',
      AWS_ENDPOINT_URL_S3: s3.endpoint,
      AWS_ENDPOINT_URL_SQS: sqs.endpoint,
      AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
    };
    const bootstrap = createDeps({
      ...awsEnv,
      OBELM_BUCKET: NAMES.bucket,
      OBELM_TABLE: NAMES.table,
      OBELM_JOBS_QUEUE_URL: `${sqs.endpoint}/queue/placeholder`,
    });
    const tableAdmin = new DynamoDBClient({
      region: awsEnv.AWS_REGION,
      endpoint: dynamo.endpoint,
      credentials: { accessKeyId: awsEnv.AWS_ACCESS_KEY_ID, secretAccessKey: awsEnv.AWS_SECRET_ACCESS_KEY },
    });
    stops.push(async () => tableAdmin.destroy());
    const [, [jobsQueueUrl, webhooksQueueUrl, batchQueueUrl]] = await Promise.all([
      ensureBucket(bootstrap.s3, NAMES.bucket),
      ensureQueues(bootstrap.sqs),
      ensureTable(tableAdmin, NAMES.table),
    ]);
    const webhooksDlqUrl = await deadLetterQueueUrl(bootstrap.sqs, NAMES.webhooks);
    const env: Record<string, string> = {
      ...awsEnv,
      OBELM_STAGE: 'local',
      OBELM_BUCKET: NAMES.bucket,
      OBELM_TABLE: NAMES.table,
      OBELM_JOBS_QUEUE_URL: jobsQueueUrl,
      OBELM_WEBHOOKS_QUEUE_URL: webhooksQueueUrl,
      OBELM_MODEL_BUNDLE: 'demo',
      OBELM_PROVIDER: 'cpu',
      OBELM_TENANT_LIMITS: JSON.stringify(LOCAL_TENANT_LIMITS),
      OBELM_WEBHOOKS_DLQ_URL: webhooksDlqUrl,
      // Receivers on this machine (http://127.0.0.1): the cloud has no such setting.
      OBELM_WEBHOOK_ALLOW_LOOPBACK: 'true',
      OBELM_SECRETS_KEY: ensureSecretsKey(dataDir),
      ...options.serviceEnv,
    };
    const deps = createDeps(env);
    stops.push(async () => {
      for (const client of [deps.s3, deps.sqs, deps.db, bootstrap.s3, bootstrap.sqs, bootstrap.db])
        client.destroy();
    });
    await ensureTenant(deps.store, tenant);
    const devKey = await ensureDevKey(deps.store, dataDir, tenant, options.devApiKey);
    // The built-in demo's catalog entry, from its manifest; jobs name it 'demo' (its alias, as in loadBundle).
    await publishModel(deps.store, catalogEntryOf(demoManifest(), { id: 'demo' }));
    const workerEnv = { ...env, ...options.workerEnv };
    const staleAfterMs = options.staleAfterMs ?? defaultStaleAfterMs({ ...process.env, ...workerEnv });
    const swept = await sweepJobs(deps, { staleAfterMs, resendAll: true });

    const server = createApiServer(
      ROUTES.map((route) => ({ ...route, handler: route.build(() => deps) })),
      // The web playground at `/`, same origin as the API, with the dev key filled in.
      { site: playgroundSite({ apiUrl: '', devKey: devKey.key }) },
    );
    await listen(server, options.port ?? 8787, host);
    stops.push(() => closeServer(server));
    const { port } = server.address() as AddressInfo;
    const apiUrl = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
    s3CorsOrigins.push(...browserOriginsOf(apiUrl));
    const stackFile = join(dataDir, LOCAL_STACK_FILE);
    writeStackFile(stackFile, {
      pid: process.pid,
      apiUrl,
      region: awsEnv.AWS_REGION,
      credentials: { accessKeyId: awsEnv.AWS_ACCESS_KEY_ID, secretAccessKey: awsEnv.AWS_SECRET_ACCESS_KEY },
      endpoints: { s3: s3.endpoint, sqs: sqs.endpoint, dynamodb: dynamo.endpoint },
      table: NAMES.table,
      bucket: NAMES.bucket,
      queues: { jobs: jobsQueueUrl, webhooks: webhooksQueueUrl },
      tenantLimits: deps.config.OBELM_TENANT_LIMITS,
      devTenant: tenant,
      devKeyFile: devKey.file,
    });
    stops.push(async () => rmSync(stackFile, { force: true }));

    const sweepEverySeconds = options.sweepEverySeconds ?? 30;
    if (sweepEverySeconds > 0) {
      const sweeps = startPeriodicSweep(deps, { everyMs: sweepEverySeconds * 1000, staleAfterMs, log });
      stops.push(() => sweeps.stop());
    }
    // The webhooks queue's Lambda, as its event source would invoke it.
    const webhooks = startQueueConsumer({
      sqs: deps.sqs,
      queueUrl: webhooksQueueUrl,
      handler: buildWebhookDispatcher(() => deps),
      log,
      pollSeconds: options.queuePollSeconds,
    });
    stops.push(() => webhooks.stop());
    // The batch queue's Lambda (the batch trigger), fed by the bucket's events under batch/.
    const bridge = startS3EventBridge({ sqs: deps.sqs, queueUrl: batchQueueUrl, log });
    s3Events = bridge;
    stops.push(() => {
      s3Events = undefined;
      return bridge.stop();
    });
    const batches = startQueueConsumer({
      sqs: deps.sqs,
      queueUrl: batchQueueUrl,
      handler: buildBatchTrigger(() => deps),
      log,
      pollSeconds: options.queuePollSeconds,
    });
    stops.push(() => batches.stop());
    const workerCount = options.worker === true ? 1 : options.worker === false ? 0 : (options.worker ?? 0);
    const workers = startWorkerProcesses(workerCount, workerEnv, log, options.workerScript);
    // Stopped first, and its supervision at once (synchronously): a worker that exits on the same Ctrl-C is
    // not restarted.
    stops.push(() => workers.stop());

    const standIns = {
      s3,
      dynamo,
      sqs: {
        endpoint: sqs.endpoint,
        stop: () => sqs.stop(),
        // The queues were in the stopped process's memory: the same names give the same URLs back, and a
        // sweep sends every queued job's message again (running jobs are taken back once their heartbeat is stale).
        start: async () => {
          await sqs.start();
          const urls = await ensureQueues(deps.sqs);
          if (urls[0] !== jobsQueueUrl || urls[1] !== webhooksQueueUrl || urls[2] !== batchQueueUrl) {
            throw new Error(`the restarted SQS stand-in gave other queue URLs: ${urls.join(', ')}`);
          }
          await sweepJobs(deps, { staleAfterMs, resendAll: true });
        },
      },
    };

    return {
      apiUrl,
      devKey: devKey.key,
      ...(devKey.replaced ? { devKeyReplaced: devKey.replaced } : {}),
      tenant,
      dataDir,
      env,
      deps,
      swept,
      workers: workers.count,
      workerPids: () => workers.pids(),
      workerRestarts: () => workers.restarts(),
      standIns,
      stop: stopAll,
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}

/** The jobs, webhooks and batch queues with the cloud's settings (packages/core/src/queues.ts): their URLs. */
const ensureQueues = (sqs: SQSClient): Promise<[string, string, string]> =>
  Promise.all([
    ensureQueueWithDlq(sqs, NAMES.jobs, QUEUES.jobs),
    ensureQueueWithDlq(sqs, NAMES.webhooks, QUEUES.webhooks),
    ensureQueueWithDlq(sqs, NAMES.batch, QUEUES.batch),
  ]);

/** Core's stale rule (two missed heartbeats) at the heartbeat the stack's workers run with. */
function defaultStaleAfterMs(workerEnv: Record<string, string | undefined>): number {
  const heartbeatSeconds = Number(workerEnv['OBELM_HEARTBEAT_SECONDS']);
  return heartbeatSeconds > 0 ? coreStaleAfterMs(heartbeatSeconds) : coreStaleAfterMs();
}

/** The discovery file: only this user may read it (it names the dev key's file and the local credentials). */
function writeStackFile(file: string, content: LocalStackFile): void {
  writeFileSync(file, `${JSON.stringify(content, null, 2)}\n`, { mode: 0o600 });
  chmodSync(file, 0o600);
}
