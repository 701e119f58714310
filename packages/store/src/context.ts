import type { S3Client } from '@aws-sdk/client-s3';
import type { SQSClient } from '@aws-sdk/client-sqs';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { Logger, TenantLimits } from '@obelm/core';
import { JobTable } from './jobTable.ts';

/**
 * What the store's functions need: the table (through core's keys), the jobs and webhooks queues, the stage's
 * default tenant limits. The API (deps.ts), the sweeper and the worker each build one from their clients and config.
 */
export interface StoreContext {
  readonly db: DynamoDBDocumentClient;
  readonly sqs: SQSClient;
  readonly table: string;
  readonly jobsQueueUrl: string;
  /** Where a job's (or batch's) end enqueues its webhook event (webhooks.ts); unset: nothing may subscribe. */
  readonly webhooksQueueUrl?: string;
  /** The bucket, where a completed batch's summary.json goes (batchCompletion.ts). */
  readonly s3: S3Client;
  readonly bucket: string;
  readonly jobs: JobTable;
  /** OBELM_TENANT_LIMITS: a tenant's limits where its item sets none. */
  readonly defaultLimits: TenantLimits;
  readonly log: Logger;
  readonly now: () => Date;
}

export function storeContext(args: Omit<StoreContext, 'jobs' | 'now'> & { now?: () => Date }): StoreContext {
  return { ...args, jobs: new JobTable(args.db, args.table), now: args.now ?? (() => new Date()) };
}
