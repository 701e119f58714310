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
  /**
   * The GPU worker's ECS service, which createJob starts when it enqueues into an empty fleet (fleet.ts). Absent
   * while the worker itself is being built (its role never holds that grant); the API's grants need it.
   */
  workerServiceArn?: pulumi.Input<string>;
}

/** Every grant the application uses, built once from the resource ARNs. */
export function grants(arns: ResourceArns) {
  const objects = (...prefixes: (keyof typeof S3_PREFIXES)[]) =>
    prefixes.map((p) => pulumi.interpolate`${arns.bucketArn}/${S3_PREFIXES[p]}*`);
  /**
   * s3:ListBucket, a bucket-level action. Besides listings, S3 checks it when a read finds no object: it answers
   * 404 only to a caller allowed to list, 403 to anyone else (an upload still pending would be a 500, a missing
   * input retried as a fault). That check carries no s3:prefix, which a plain StringLike never matches, hence
   * IfExists: a listing must name one of `prefixes` (one naming none lists keys, never contents).
   */
  const listing = (...prefixes: (keyof typeof S3_PREFIXES)[]): Grant => ({
    actions: ['s3:ListBucket'],
    resources: [arns.bucketArn],
    conditions: [
      {
        test: 'StringLikeIfExists',
        variable: 's3:prefix',
        values: prefixes.map((p) => `${S3_PREFIXES[p]}*`),
      },
    ],
  });
  const table = [arns.tableArn];
  return {
    // DynamoDB items by key (api keys, tenants, jobs, uploads, idempotency keys, rate windows), one action per
    // grant.
    itemRead: { actions: ['dynamodb:GetItem'], resources: table },
    itemPut: { actions: ['dynamodb:PutItem'], resources: table },
    itemUpdate: { actions: ['dynamodb:UpdateItem'], resources: table },
    // Only createJob's release of an Idempotency-Key whose job was never queued.
    itemDelete: { actions: ['dynamodb:DeleteItem'], resources: table },
    // The sweeper's walk over job items (re-enqueue lost, recover stale, expire old); nothing else scans.
    tableScan: { actions: ['dynamodb:Scan'], resources: table },
    // A tenant's jobs newest first, only through the index.
    tenantJobsQuery: {
      actions: ['dynamodb:Query'],
      resources: [pulumi.interpolate`${arns.tableArn}/index/${TABLE.gsi1.name}`],
    },
    // A tenant's active jobs (admission counts, releasing held jobs: store dispatch.ts), only through the index.
    activeJobsQuery: {
      actions: ['dynamodb:Query'],
      resources: [pulumi.interpolate`${arns.tableArn}/index/${TABLE.gsi2.name}`],
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
    // SQS. The worker polls the jobs queue itself; a Lambda consumer (event source) also reads its attributes.
    jobsSend: { actions: ['sqs:SendMessage'], resources: [arns.jobsQueueArn] },
    jobsConsume: {
      actions: ['sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:ChangeMessageVisibility'],
      resources: [arns.jobsQueueArn],
    },
    // The sweeper compares the jobs queue's message counts with the active jobs (lost messages, sweeper.ts).
    jobsCount: { actions: ['sqs:GetQueueAttributes'], resources: [arns.jobsQueueArn] },
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
    // ECS: createJob starts the worker service from zero tasks (packages/api/src/jobs/fleet.ts).
    fleetStart: {
      actions: ['ecs:DescribeServices', 'ecs:UpdateService'],
      resources: arns.workerServiceArn === undefined ? [] : [arns.workerServiceArn],
    },
    // S3, per prefix. A presigned URL carries the signer's rights: signing a PUT (the upload form) needs
    // s3:PutObject, and every job view's output links (getJob, listJobs, cancelJob, createJob's replay) s3:GetObject.
    uploadsWrite: { actions: ['s3:PutObject'], resources: objects('uploads') },
    uploadsRead: { actions: ['s3:GetObject'], resources: objects('uploads') },
    uploadsList: listing('uploads'),
    jobsRead: { actions: ['s3:GetObject'], resources: objects('jobs') },
    // Inline inputs (createJob); outputs, noise artifacts and checkpoints (worker).
    jobsWrite: { actions: ['s3:PutObject'], resources: objects('jobs') },
    // The worker removes a job's checkpoints once it succeeds; DELETE /v1/jobs/{id} every object of a job.
    jobsDelete: { actions: ['s3:DeleteObject'], resources: objects('jobs') },
    // DELETE /v1/jobs/{id} lists the job's folder to delete what is in it.
    jobsList: listing('jobs'),
    modelsRead: { actions: ['s3:GetObject'], resources: objects('models') },
    // The worker reads inputs (uploads/, jobs/) and model bundles, which it lists (bundleFetch.ts).
    workerList: listing('uploads', 'jobs', 'models'),
    // Batch (planned): images dropped under batch/ start jobs whose outputs go under batch-out/.
    batchRead: { actions: ['s3:GetObject'], resources: objects('batch') },
    batchOutWrite: { actions: ['s3:PutObject'], resources: objects('batchOut') },
  } satisfies Record<string, Grant>;
}

export type Grants = ReturnType<typeof grants>;

export type GrantName = keyof Grants;

/**
 * The grants of each Lambda handler core names (packages/core/src/routes.ts; the code is
 * packages/api/src/handlers/<name>.ts). A handler added there without grants here fails the type-check, and
 * test/infra/iamCoverage.test.ts checks each list against the AWS calls the handler really makes: every call
 * allowed, every grant used. Every handler behind an API key reads the key and its tenant (itemRead) and counts
 * the request in the key's rate window (itemUpdate): packages/api/src/middleware/auth.ts and rateLimit.ts.
 */
export const HANDLER_GRANTS = {
  createJob: [
    'itemRead',
    'itemPut',
    'itemUpdate',
    'itemDelete',
    'catalogQuery',
    'activeJobsQuery',
    'usageQuery',
    'jobsSend',
    'uploadsRead',
    'uploadsList',
    'jobsRead',
    'jobsWrite',
    'fleetStart',
  ],
  getJob: ['itemRead', 'itemUpdate', 'jobsRead'],
  listJobs: ['itemRead', 'itemUpdate', 'tenantJobsQuery', 'jobsRead'],
  // A queued job canceled here: its usage entry, and its tenant's held jobs released (store outbox.ts).
  cancelJob: ['itemRead', 'itemPut', 'itemUpdate', 'activeJobsQuery', 'jobsSend', 'jobsRead'],
  createUpload: ['itemRead', 'itemPut', 'itemUpdate', 'uploadsWrite'],
  openapi: [],
  listModels: ['itemRead', 'itemUpdate', 'catalogQuery'],
  // A tombstone's view has no outputs to sign: no jobsRead.
  deleteJob: ['itemRead', 'itemUpdate', 'jobsList', 'jobsDelete'],
  getUsage: ['itemRead', 'itemUpdate', 'usageQuery'],
  sweeper: ['itemRead', 'itemPut', 'itemUpdate', 'tableScan', 'activeJobsQuery', 'jobsSend', 'jobsCount'],
} as const satisfies Record<LambdaHandlerName, readonly GrantName[]>;

/**
 * Grants of handlers later issues add, ready for their seams in infra/api.ts: each moves into
 * HANDLER_GRANTS when its handler file exists and core names it (the coverage test then holds it to its calls).
 * Whatever of theirs the API and the worker need too (webhooksSend when jobs end, batch outputs in job views and
 * the worker) is added to those lists with the code that makes the calls.
 */
export const PLANNED_HANDLER_GRANTS = {
  batchTrigger: ['itemRead', 'itemPut', 'jobsSend', 'batchRead'],
  webhookDispatcher: ['itemRead', 'itemUpdate', 'webhooksConsume', 'webhooksSend'],
} as const satisfies Record<string, readonly GrantName[]>;

/**
 * The GPU worker: consume jobs, read inputs and model bundles (listing them, and missing objects as 404s), write
 * outputs and checkpoints, remove checkpoints, update job items; after a job's end, write its usage entry and
 * release its tenant's held jobs (store outbox.ts, dispatch.ts: the gsi2 Query, the tenant's item, SendMessage).
 */
export const WORKER_GRANTS = [
  'jobsConsume',
  'jobsSend',
  'itemRead',
  'itemPut',
  'itemUpdate',
  'activeJobsQuery',
  'uploadsRead',
  'jobsRead',
  'jobsWrite',
  'jobsDelete',
  'modelsRead',
  'workerList',
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
