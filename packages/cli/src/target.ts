import { DynamoDBClient, type DynamoDBClientConfig } from '@aws-sdk/client-dynamodb';
import { S3Client, type S3ClientConfig } from '@aws-sdk/client-s3';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import {
  awsClientSettings,
  type LocalStackFile,
  stageParameters,
  type TenantLimits,
  TenantLimitsSchema,
} from '@obelm/core';
import type { TenantStore } from '@obelm/store';
import { CliError } from './errors.ts';
import { localDataDir, runningLocalStack } from './localStack.ts';

/** Where a command acts: the table of the running local stack or of a deployed stage. */
export interface Target {
  /** In words, for messages: `the local stack in .obelm` or `stage prod`. */
  name: string;
  store: TenantStore;
  /** The stage's default tenant limits (a tenant's effective limits are its overrides over these). */
  defaultLimits: TenantLimits;
  close(): void;
}

/** Where `obelm admin models` acts: the table of the catalog and the bucket of the bundles. */
export interface BundleTarget {
  /** In words, for messages: `the local stack in .obelm` or `stage prod`. */
  name: string;
  store: TenantStore;
  s3: S3Client;
  bucket: string;
  close(): void;
}

function tableStore(table: string, config: DynamoDBClientConfig): { store: TenantStore; close(): void } {
  const client = new DynamoDBClient(config);
  const db = DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
  return { store: { db, table, now: () => new Date() }, close: () => client.destroy() };
}

/** The table and the bucket, with clients that close together. */
function bundleTarget(
  name: string,
  table: { name: string; config: DynamoDBClientConfig },
  bucket: { name: string; config: S3ClientConfig },
): BundleTarget {
  const { store, close } = tableStore(table.name, table.config);
  const s3 = new S3Client(bucket.config);
  return {
    name,
    store,
    s3,
    bucket: bucket.name,
    close: () => {
      s3.destroy();
      close();
    },
  };
}

/**
 * What an S3 stand-in (s3rver) needs of a client: path-style addressing (it cannot resolve bucket subdomains), and
 * checksums only where an operation requires one, since it cannot decode the aws-chunked body (with a trailing
 * checksum) that the SDK otherwise sends a streamed upload as.
 */
const STAND_IN_S3 = { forcePathStyle: true, requestChecksumCalculation: 'WHEN_REQUIRED' } as const;

/** The clients' settings for the running local stack: its stand-ins' endpoints and fixed credentials. */
function localClients(stack: LocalStackFile) {
  const common = { region: stack.region, credentials: stack.credentials };
  return {
    dynamodb: { ...common, endpoint: stack.endpoints.dynamodb },
    s3: { ...common, endpoint: stack.endpoints.s3, ...STAND_IN_S3 },
  };
}

export function localTarget(dataDir = localDataDir()): Target {
  const stack = runningLocalStack(dataDir);
  return {
    name: `the local stack in ${dataDir}`,
    ...tableStore(stack.table, localClients(stack).dynamodb),
    defaultLimits: stack.tenantLimits,
  };
}

export function localBundleTarget(dataDir = localDataDir()): BundleTarget {
  const stack = runningLocalStack(dataDir);
  const clients = localClients(stack);
  return bundleTarget(
    `the local stack in ${dataDir}`,
    { name: stack.table, config: clients.dynamodb },
    { name: stack.bucket, config: clients.s3 },
  );
}

/**
 * A deployed stage: its table's name and default limits from its SSM parameters (infra/discovery.ts), with the
 * AWS credentials and region of the environment (the SDK's default chain).
 */
export async function stageTarget(stage: string): Promise<Target> {
  // One after the other: a stage that is not deployed is reported by its table parameter, always the same one.
  const { table, tenantLimits } = await readStageParameters(stage, ['table', 'tenantLimits']);
  return {
    name: `stage ${stage}`,
    ...tableStore(table, {}),
    defaultLimits: TenantLimitsSchema.parse(JSON.parse(tenantLimits)),
  };
}

/** A deployed stage's table and bucket, named by its SSM parameters, with the environment's AWS credentials. */
export async function stageBundleTarget(stage: string): Promise<BundleTarget> {
  const { table, bucket } = await readStageParameters(stage, ['table', 'bucket']);
  // An S3 endpoint of its own (AWS_ENDPOINT_URL_S3) is a stand-in; AWS itself takes the SDK's defaults.
  const standIn = awsClientSettings(process.env, 'S3').endpoint !== undefined;
  return bundleTarget(
    `stage ${stage}`,
    { name: table, config: {} },
    { name: bucket, config: standIn ? STAND_IN_S3 : {} },
  );
}

type StageParameter = keyof ReturnType<typeof stageParameters>;

/** The values of a stage's SSM parameters, read in order; the first that cannot be read fails in one line. */
async function readStageParameters<K extends StageParameter>(
  stage: string,
  which: readonly K[],
): Promise<Record<K, string>> {
  const { SSMClient, GetParameterCommand } = await import('@aws-sdk/client-ssm');
  const ssm = new SSMClient({});
  const names = stageParameters(stage);
  const read = async (name: string) => {
    try {
      const { Parameter } = await ssm.send(new GetParameterCommand({ Name: name }));
      if (Parameter?.Value === undefined) throw new Error('no value');
      return Parameter.Value;
    } catch (err) {
      throw new CliError(
        `cannot read SSM parameter ${name} of stage ${stage} (${(err as Error).name}: ${(err as Error).message}): ` +
          'is the stage deployed, and are AWS credentials and the region (AWS_REGION) set for its account?',
      );
    }
  };
  try {
    const values = {} as Record<K, string>;
    for (const parameter of which) values[parameter] = await read(names[parameter]);
    return values;
  } finally {
    ssm.destroy();
  }
}
