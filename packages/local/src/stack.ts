import { mkdirSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { createDeps, type Deps, publishModel, ROUTES, type SweepReport, sweepJobs } from '@obelm/api';
import { QUEUES } from '@obelm/core';
import { catalogEntryOf, demoManifest } from '@obelm/models';
import { createApiServer } from './adapter.ts';
import { devApiKey } from './devKey.ts';
import { acquireLock } from './lock.ts';
import { ensureBucket, ensureQueueWithDlq, ensureTable, seedApiKey } from './provision.ts';
import { closeServer, type StandIn, startDynamo, startS3, startSqs } from './standins.ts';
import { startWorkerProcesses } from './workers.ts';

export interface LocalStackOptions {
  /** Where S3 objects, the DynamoDB store, the dev key and the lock live. Default `.obelm` under the cwd. */
  dataDir?: string;
  /** API port; 0 picks a free one. Default 8787. */
  port?: number;
  host?: string;
  /** Worker processes: false/0 none, true one, or a count. Default none. */
  worker?: boolean | number;
  devApiKey?: string;
  tenant?: string;
  /** A running job without a heartbeat for this long is re-queued at start. Default 120 s. */
  staleAfterMs?: number;
  /** Extra variables for the worker processes (e.g. OBELM_TEST_STEP_DELAY_MS). */
  workerEnv?: Record<string, string>;
}

export interface LocalStack {
  apiUrl: string;
  devKey: string;
  tenant: string;
  dataDir: string;
  /** What a worker (or any AWS SDK client) in another process needs: endpoints, names, credentials. */
  env: Record<string, string>;
  /** The API's clients and config, for tests that inspect or arrange state directly. */
  deps: Deps;
  /** What the start-up reconciliation re-enqueued, recovered or expired. */
  swept: SweepReport;
  workers: number;
  stop(): Promise<void>;
}

const NAMES = { bucket: 'obelm-local', table: 'obelm-local', jobs: 'obelm-jobs', webhooks: 'obelm-webhooks' };

/**
 * The whole service on one machine: S3, SQS and DynamoDB stand-ins on 127.0.0.1, the API handlers behind an
 * API Gateway-like HTTP adapter, and worker processes. Everything but the queues persists under `dataDir`;
 * queued and stale running jobs are re-enqueued at start (sweeper.ts). One stack per data folder (lock file).
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
  const started = async (standIn: Promise<StandIn>) => {
    const s = await standIn;
    stops.push(() => s.stop());
    return s;
  };

  try {
    const s3 = await started(startS3(join(dataDir, 's3')));
    const sqs = await started(startSqs());
    const dynamo = await started(startDynamo(join(dataDir, 'dynamodb')));
    const devKey = devApiKey(dataDir, options.devApiKey);
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
    // The cloud's queue settings (packages/core/src/queues.ts), so messages behave as they do there.
    const [, jobsQueueUrl, webhooksQueueUrl] = await Promise.all([
      ensureBucket(bootstrap.s3, NAMES.bucket),
      ensureQueueWithDlq(bootstrap.sqs, NAMES.jobs, QUEUES.jobs),
      ensureQueueWithDlq(bootstrap.sqs, NAMES.webhooks, QUEUES.webhooks),
      ensureTable(tableAdmin, NAMES.table),
    ]);
    const env: Record<string, string> = {
      ...awsEnv,
      OBELM_STAGE: 'local',
      OBELM_BUCKET: NAMES.bucket,
      OBELM_TABLE: NAMES.table,
      OBELM_JOBS_QUEUE_URL: jobsQueueUrl,
      OBELM_WEBHOOKS_QUEUE_URL: webhooksQueueUrl,
      OBELM_DEV_API_KEY: devKey,
      OBELM_DEV_TENANT: tenant,
      OBELM_MODEL_BUNDLE: 'demo',
      OBELM_PROVIDER: 'cpu',
    };
    const deps = createDeps(env);
    stops.push(async () => {
      for (const client of [deps.s3, deps.sqs, deps.db, bootstrap.s3, bootstrap.sqs, bootstrap.db])
        client.destroy();
    });
    await seedApiKey(deps.db, NAMES.table, devKey, tenant);
    // The built-in demo's catalog entry, from its manifest; jobs name it 'demo' (its alias, as in loadBundle).
    await publishModel(deps.db, NAMES.table, catalogEntryOf(demoManifest(), { id: 'demo' }));
    const swept = await sweepJobs(deps, { staleAfterMs: options.staleAfterMs ?? 120_000 });

    const server = createApiServer(ROUTES.map((route) => ({ ...route, handler: route.build(() => deps) })));
    await listen(server, options.port ?? 8787, host);
    stops.push(() => closeServer(server));
    const { port } = server.address() as AddressInfo;
    const apiUrl = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;

    const workerCount = options.worker === true ? 1 : options.worker === false ? 0 : (options.worker ?? 0);
    const workers = startWorkerProcesses(workerCount, { ...env, ...options.workerEnv });
    stops.push(() => workers.stop());

    return { apiUrl, devKey, tenant, dataDir, env, deps, swept, workers: workers.count, stop: stopAll };
  } catch (err) {
    await stopAll();
    throw err;
  }
}

function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}
