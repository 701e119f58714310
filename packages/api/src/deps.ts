import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { loadConfig, type ServiceConfig, ServiceConfigSchema } from '@obelm/core';
import { createModelCatalog, type ModelCatalog } from './models/catalog.ts';

/** Everything a handler touches outside itself. Built once per Lambda container (or per local stack). */
export interface Deps {
  config: ServiceConfig;
  /** The models, read from the table and cached per container (models/catalog.ts). */
  catalog: ModelCatalog;
  s3: S3Client;
  sqs: SQSClient;
  db: DynamoDBDocumentClient;
  now: () => Date;
}

export type Env = Record<string, string | undefined>;

/**
 * Builds clients from an environment record. In Lambda that is `process.env` (the SDK's own defaults apply);
 * the local stack passes its own record, so several stacks can live in one process without touching
 * `process.env`. The endpoint variables are the ones the SDK honours by itself (AWS_ENDPOINT_URL_*).
 */
export function createDeps(env: Env = process.env): Deps {
  const region = env['AWS_REGION'] ?? env['AWS_DEFAULT_REGION'];
  const accessKeyId = env['AWS_ACCESS_KEY_ID'];
  const secretAccessKey = env['AWS_SECRET_ACCESS_KEY'];
  const common = {
    ...(region ? { region } : {}),
    ...(accessKeyId && secretAccessKey ? { credentials: { accessKeyId, secretAccessKey } } : {}),
  };
  const s3Endpoint = env['AWS_ENDPOINT_URL_S3'];
  const sqsEndpoint = env['AWS_ENDPOINT_URL_SQS'];
  const dbEndpoint = env['AWS_ENDPOINT_URL_DYNAMODB'];
  const config = loadConfig(ServiceConfigSchema, env);
  const db = DynamoDBDocumentClient.from(
    new DynamoDBClient({ ...common, ...(dbEndpoint ? { endpoint: dbEndpoint } : {}) }),
    { marshallOptions: { removeUndefinedValues: true } },
  );
  return {
    config,
    catalog: createModelCatalog(db, config.OBELM_TABLE),
    // Stand-ins serve buckets by path, not by virtual host (docs/local-stack.md §2).
    s3: new S3Client({ ...common, ...(s3Endpoint ? { endpoint: s3Endpoint, forcePathStyle: true } : {}) }),
    // Local queue URLs name a host that does not resolve: send to the endpoint (docs/local-stack.md §3).
    sqs: new SQSClient({
      ...common,
      ...(sqsEndpoint ? { endpoint: sqsEndpoint, useQueueUrlAsEndpoint: false } : {}),
    }),
    db,
    now: () => new Date(),
  };
}

/** What every handler factory takes: a function so Lambda builds its deps lazily, on the first request. */
export type DepsProvider = () => Deps;

let lambdaDeps: Deps | undefined;
/** The deps of a Lambda container: from `process.env`, built once. */
export const lambdaDepsProvider: DepsProvider = () => {
  lambdaDeps ??= createDeps(process.env);
  return lambdaDeps;
};
