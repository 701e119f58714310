import { dbKeys, type LambdaHandlerName, S3_PREFIXES, TABLE } from '@obelm/core';
import * as pulumi from '@pulumi/pulumi';

/**
 * Least-privilege access, as data: each grant names the actions one code path needs on the narrowest
 * resource (a bucket prefix, one queue, the table or its index). The worker's task role and every Lambda
 * get exactly the grants listed for them below, nothing else. The shape matches SST's permission
 * ({ actions, resources }) so the same grants feed `sst.aws.permission` and plain IAM policies.
 */
export interface Grant {
  actions: string[];
  resources: pulumi.Input<string>[];
  conditions?: { test: string; variable: string; values: string[] }[];
}

/** ARNs of the resources the application code touches. */
export interface ResourceArns {
  bucketArn: pulumi.Input<string>;
  tableArn: pulumi.Input<string>;
  jobsQueueArn: pulumi.Input<string>;
  webhooksQueueArn: pulumi.Input<string>;
}

/** Every grant the application uses, built once from the resource ARNs. */
export function grants(arns: ResourceArns) {
  const objects = (...prefixes: (keyof typeof S3_PREFIXES)[]) =>
    prefixes.map((p) => pulumi.interpolate`${arns.bucketArn}/${S3_PREFIXES[p]}*`);
  const table = [arns.tableArn];
  return {
    // DynamoDB: items by key (api keys, tenants, jobs, idempotency, usage counters with ADD).
    itemRead: { actions: ['dynamodb:GetItem'], resources: table },
    itemWrite: {
      actions: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem'],
      resources: table,
    },
    // The sweeper's walk over job items (re-enqueue lost, recover stale, expire old); nothing else scans.
    tableScan: { actions: ['dynamodb:Scan'], resources: table },
    // A tenant's jobs newest first, only through the index.
    tenantJobsQuery: {
      actions: ['dynamodb:Query'],
      resources: [pulumi.interpolate`${arns.tableArn}/index/${TABLE.gsi1.name}`],
    },
    usageQuery: { actions: ['dynamodb:Query'], resources: table },
    // The model catalog (packages/api/src/models/catalog.ts): one Query of its partition, and of no other.
    catalogQuery: {
      actions: ['dynamodb:Query'],
      resources: table,
      conditions: [
        {
          test: 'ForAllValues:StringEquals',
          variable: 'dynamodb:LeadingKeys',
          values: [dbKeys.modelsPartition],
        },
      ],
    },
    // SQS
    jobsSend: { actions: ['sqs:SendMessage'], resources: [arns.jobsQueueArn] },
    jobsConsume: {
      actions: [
        'sqs:ReceiveMessage',
        'sqs:DeleteMessage',
        'sqs:ChangeMessageVisibility',
        'sqs:GetQueueAttributes',
      ],
      resources: [arns.jobsQueueArn],
    },
    webhooksSend: { actions: ['sqs:SendMessage'], resources: [arns.webhooksQueueArn] },
    webhooksConsume: {
      actions: [
        'sqs:ReceiveMessage',
        'sqs:DeleteMessage',
        'sqs:ChangeMessageVisibility',
        'sqs:GetQueueAttributes',
      ],
      resources: [arns.webhooksQueueArn],
    },
    // S3, per prefix. A presigned URL carries the signer's rights, so signing a PUT needs s3:PutObject.
    uploadsWrite: { actions: ['s3:PutObject'], resources: objects('uploads') },
    inputsRead: { actions: ['s3:GetObject'], resources: objects('uploads', 'batch', 'jobs') },
    outputsRead: { actions: ['s3:GetObject'], resources: objects('jobs', 'batchOut') },
    outputsWrite: {
      actions: ['s3:PutObject', 's3:DeleteObject'],
      resources: objects('jobs', 'batchOut'),
    },
    modelsRead: { actions: ['s3:GetObject'], resources: objects('models') },
    // Listing is a bucket-level action; the condition keeps it to the model bundles.
    modelsList: {
      actions: ['s3:ListBucket'],
      resources: [arns.bucketArn],
      conditions: [{ test: 'StringLike', variable: 's3:prefix', values: [`${S3_PREFIXES.models}*`] }],
    },
  } satisfies Record<string, Grant>;
}

export type Grants = ReturnType<typeof grants>;

export type GrantName = keyof Grants;

/**
 * The grants of each Lambda handler core names (packages/core/src/routes.ts; the code is
 * packages/api/src/handlers/<name>.ts). A handler added there without grants here fails the type-check.
 */
export const HANDLER_GRANTS = {
  createJob: ['itemWrite', 'catalogQuery', 'jobsSend', 'inputsRead', 'outputsWrite'],
  getJob: ['itemRead', 'outputsRead'],
  listJobs: ['itemRead', 'tenantJobsQuery'],
  cancelJob: ['itemWrite', 'webhooksSend'],
  createUpload: ['itemWrite', 'uploadsWrite'],
  openapi: [],
  listModels: ['itemRead', 'catalogQuery'],
  sweeper: ['itemWrite', 'tableScan', 'jobsSend'],
} as const satisfies Record<LambdaHandlerName, readonly GrantName[]>;

/**
 * Grants of handlers later issues add, ready for their seams in infra/api.ts: each moves into
 * HANDLER_GRANTS when its handler file exists and core names it.
 */
export const PLANNED_HANDLER_GRANTS = {
  usage: ['itemRead', 'usageQuery'],
  batchTrigger: ['itemWrite', 'jobsSend', 'inputsRead'],
  webhookDispatcher: ['itemWrite', 'webhooksConsume', 'webhooksSend'],
} as const satisfies Record<string, readonly GrantName[]>;

/**
 * The GPU worker: consume jobs, read inputs and model bundles, write outputs and checkpoints, update job
 * items and usage counters, and enqueue webhook events.
 */
export const WORKER_GRANTS = [
  'jobsConsume',
  'webhooksSend',
  'itemWrite',
  'inputsRead',
  'outputsWrite',
  'modelsRead',
  'modelsList',
] as const satisfies readonly GrantName[];

/** The grants behind a list of names. */
export function select(all: Grants, names: readonly GrantName[]): Grant[] {
  return names.map((name) => all[name]);
}

/** An IAM policy document (JSON) holding exactly `list`. */
export function policyDocument(list: Grant[]): pulumi.Output<string> {
  return pulumi.jsonStringify({
    Version: '2012-10-17',
    Statement: list.map((grant) => ({
      Effect: 'Allow',
      Action: grant.actions,
      Resource: grant.resources,
      ...(grant.conditions && {
        Condition: Object.fromEntries(grant.conditions.map((c) => [c.test, { [c.variable]: c.values }])),
      }),
    })),
  });
}
