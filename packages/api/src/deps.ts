import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { KMSClient } from '@aws-sdk/client-kms';
import { S3Client } from '@aws-sdk/client-s3';
import { SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { awsClientSettings, loadConfig, type ServiceConfig, ServiceConfigSchema } from '@obelm/core';
import { type SecretSealer, type StoreContext, sealerFor, storeContext } from '@obelm/store';
import { createFleet, ecsSender, type Fleet } from './jobs/fleet.ts';
import { apiLog } from './log.ts';
import { createModelCatalog, type ModelCatalog } from './models/catalog.ts';

/** Everything a handler touches outside itself. Built once per Lambda container (or per local stack). */
export interface Deps {
  config: ServiceConfig;
  /** The models, read from the table and cached per container (models/catalog.ts). */
  catalog: ModelCatalog;
  s3: S3Client;
  sqs: SQSClient;
  db: DynamoDBDocumentClient;
  /** The table and the jobs queue as the store package works them (job items, tenants, usage, dispatch). */
  store: StoreContext;
  /**
   * Seals and opens the tenants' webhook signing secrets (store secrets.ts): KMS in the cloud, the local key
   * locally. Built on first use: only the functions that handle secrets are configured for it.
   */
  sealer: SecretSealer;
  /** The GPU worker service, started from zero by createJob (fleet.ts); cloud only (OBELM_WORKER_*). */
  fleet?: Fleet;
  now: () => Date;
}

export type Env = Record<string, string | undefined>;

/** Time to open a connection, and for a request's response, before the SDK counts an attempt as failed. */
const CONNECT_TIMEOUT_MS = 3000;
const REQUEST_TIMEOUT_MS = 15_000;

const SERVICE = Symbol('obelm.service');

/** The service ('S3', 'SQS', 'DynamoDB') whose client threw `err`, for a 503's details. */
export const serviceOf = (err: unknown): string | undefined =>
  typeof err === 'object' && err !== null ? (err as { [SERVICE]?: string })[SERVICE] : undefined;

/**
 * Marks every error the client throws (after its retries) with the service's name: a refused connection
 * says nothing of where it was going.
 */
function namingErrors<C extends S3Client | SQSClient | DynamoDBClient | KMSClient>(
  client: C,
  service: string,
): C {
  (client as S3Client).middlewareStack.add(
    (next) => async (args) => {
      try {
        return await next(args);
      } catch (err) {
        if (typeof err === 'object' && err !== null) Object.assign(err, { [SERVICE]: service });
        throw err;
      }
    },
    { step: 'initialize', name: 'obelmServiceName' },
  );
  return client;
}

/**
 * Builds clients from an environment record. In Lambda that is `process.env` (the SDK's own defaults apply);
 * the local stack passes its own record, so several stacks can live in one process without touching
 * `process.env`. Region, endpoints (AWS_ENDPOINT_URL_*) and credentials come from core's `awsClientSettings`:
 * explicit keys only with a local endpoint, the SDK's default chain (with Lambda's session token) otherwise.
 */
export function createDeps(env: Env = process.env): Deps {
  const common = {
    // Without these a blackholed endpoint holds a request until the Lambda times out; with them it fails
    // (after the SDK's retries) as a 503 the client can retry.
    requestHandler: { connectionTimeout: CONNECT_TIMEOUT_MS, requestTimeout: REQUEST_TIMEOUT_MS },
  };
  const s3 = awsClientSettings(env, 'S3');
  const config = loadConfig(ServiceConfigSchema, env);
  const db = DynamoDBDocumentClient.from(
    namingErrors(new DynamoDBClient({ ...common, ...awsClientSettings(env, 'DYNAMODB') }), 'DynamoDB'),
    { marshallOptions: { removeUndefinedValues: true } },
  );
  const sqs = awsClientSettings(env, 'SQS');
  // Local queue URLs name a host that does not resolve: send to the endpoint (docs/local-stack.md §3).
  const sqsClient = namingErrors(
    new SQSClient({ ...common, ...sqs, ...(sqs.endpoint ? { useQueueUrlAsEndpoint: false } : {}) }),
    'SQS',
  );
  // Stand-ins serve buckets by path, not by virtual host (docs/local-stack.md §2).
  const s3Client = namingErrors(
    new S3Client({ ...common, ...s3, ...(s3.endpoint ? { forcePathStyle: true } : {}) }),
    'S3',
  );
  return {
    config,
    catalog: createModelCatalog(db, config.OBELM_TABLE),
    s3: s3Client,
    sqs: sqsClient,
    db,
    store: storeContext({
      db,
      sqs: sqsClient,
      table: config.OBELM_TABLE,
      jobsQueueUrl: config.OBELM_JOBS_QUEUE_URL,
      webhooksQueueUrl: config.OBELM_WEBHOOKS_QUEUE_URL,
      s3: s3Client,
      bucket: config.OBELM_BUCKET,
      defaultLimits: config.OBELM_TENANT_LIMITS,
      log: apiLog,
    }),
    sealer: sealerOnFirstUse(() =>
      sealerFor(
        config,
        // Cloud only (the local stack seals with its own key): the SDK's default region and credentials.
        config.OBELM_KMS_KEY_ID ? namingErrors(new KMSClient(common), 'KMS') : undefined,
      ),
    ),
    ...(env['OBELM_WORKER_CLUSTER'] && env['OBELM_WORKER_SERVICE']
      ? {
          fleet: createFleet({
            cluster: env['OBELM_WORKER_CLUSTER'],
            service: env['OBELM_WORKER_SERVICE'],
            ecs: ecsSender(common), // cloud only: the SDK's default region and credentials
            log: apiLog,
          }),
        }
      : {}),
    now: () => new Date(),
  };
}

/**
 * A sealer built when first used: every function builds its deps, but only those that seal or open secrets are
 * given a key (infra/environment.ts); the others never need one, and a missing key fails only its use.
 */
function sealerOnFirstUse(build: () => SecretSealer): SecretSealer {
  let sealer: SecretSealer | undefined;
  const get = () => {
    sealer ??= build();
    return sealer;
  };
  return { seal: async (plain) => get().seal(plain), open: async (sealed) => get().open(sealed) };
}

/** What every handler factory takes: a function so Lambda builds its deps lazily, on the first request. */
export type DepsProvider = () => Deps;

let lambdaDeps: Deps | undefined;
/** The deps of a Lambda container: from `process.env`, built once. */
export const lambdaDepsProvider: DepsProvider = () => {
  lambdaDeps ??= createDeps(process.env);
  return lambdaDeps;
};
