import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { DynamoDBClient, type DynamoDBClientConfig } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import {
  LOCAL_STACK_FILE,
  type LocalStackFile,
  LocalStackFileSchema,
  stageParameters,
  type TenantLimits,
  TenantLimitsSchema,
} from '@obelm/core';
import type { TenantStore } from '@obelm/store';
import { CliError } from './errors.ts';

/** Where a command acts: the table of the running local stack or of a deployed stage. */
export interface Target {
  /** In words, for messages: `the local stack in .obelm` or `stage prod`. */
  name: string;
  store: TenantStore;
  /** The stage's default tenant limits (a tenant's effective limits are its overrides over these). */
  defaultLimits: TenantLimits;
  close(): void;
}

/** The data folder the local stack and this command line agree on (OBELM_DATA_DIR, default `.obelm`). */
export const localDataDir = (env: NodeJS.ProcessEnv = process.env): string =>
  resolve(env['OBELM_DATA_DIR'] || '.obelm');

/** The running local stack's discovery file (packages/local writes it at start, removes it at stop). */
export function runningLocalStack(dataDir = localDataDir()): LocalStackFile {
  const file = join(dataDir, LOCAL_STACK_FILE);
  const hint =
    'start one with `npm start` (or set OBELM_DATA_DIR to its data folder), or pass --stage <name>';
  if (!existsSync(file)) throw new CliError(`no local stack runs in ${dataDir}: ${hint}`);
  const parsed = LocalStackFileSchema.safeParse(JSON.parse(readFileSync(file, 'utf8')));
  if (!parsed.success) throw new CliError(`${file} is not a stack file of this version: restart the stack`);
  if (!isAlive(parsed.data.pid)) {
    throw new CliError(`the local stack in ${dataDir} is not running (its process is gone): ${hint}`);
  }
  return parsed.data;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function tableStore(table: string, config: DynamoDBClientConfig): { store: TenantStore; close(): void } {
  const client = new DynamoDBClient(config);
  const db = DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
  return { store: { db, table, now: () => new Date() }, close: () => client.destroy() };
}

export function localTarget(dataDir = localDataDir()): Target {
  const stack = runningLocalStack(dataDir);
  return {
    name: `the local stack in ${dataDir}`,
    ...tableStore(stack.table, {
      region: stack.region,
      endpoint: stack.endpoints.dynamodb,
      credentials: stack.credentials,
    }),
    defaultLimits: stack.tenantLimits,
  };
}

/**
 * A deployed stage: its table's name and default limits from its SSM parameters (infra/discovery.ts), with the
 * AWS credentials and region of the environment (the SDK's default chain).
 */
export async function stageTarget(stage: string): Promise<Target> {
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
    // One after the other: a stage that is not deployed is reported by its table parameter, always the same one.
    const table = await read(names.table);
    const limits = await read(names.tenantLimits);
    return {
      name: `stage ${stage}`,
      ...tableStore(table, {}),
      defaultLimits: TenantLimitsSchema.parse(JSON.parse(limits)),
    };
  } finally {
    ssm.destroy();
  }
}
