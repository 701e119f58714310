import { dbKeys, type LambdaHandlerName, S3_PREFIXES, TABLE, WEBHOOK_SECRET_CONTEXT } from '@obelm/core';
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
  /** Where the dispatcher puts a delivery it gives up on (after WEBHOOK_MAX_ATTEMPTS). */
  webhooksDlqArn: pulumi.Input<string>;
  /** The bucket's ObjectCreated notifications under batch/ (the batch trigger's event source). */
  batchQueueArn: pulumi.Input<string>;
  /** The KMS key that seals webhook signing secrets (infra/secrets.ts). */
  webhookSecretsKeyArn: pulumi.Input<string>;
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
  /**
   * What a Lambda event source mapping does with the function's role: Lambda polls the queue, deletes what the
   * handler did not report failed, and reads the queue's attributes. The handler's own code never calls these.
   */
  const eventSource = (queueArn: pulumi.Input<string>): Grant => ({
    actions: ['sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:GetQueueAttributes'],
    resources: [queueArn],
  });
  /** One KMS action on the webhook secrets key, for that purpose only (the encryption context). */
  const webhookSecretKey = (action: string): Grant => ({
    actions: [action],
    resources: [arns.webhookSecretsKeyArn],
    conditions: Object.entries(WEBHOOK_SECRET_CONTEXT).map(([name, value]) => ({
      test: 'StringEquals',
      variable: `kms:EncryptionContext:${name}`,
      values: [value],
    })),
  });
  return {
    // DynamoDB items by key (api keys, tenants, jobs, uploads, idempotency keys, rate windows), one action per
    // grant.
    itemRead: { actions: ['dynamodb:GetItem'], resources: table },
    itemPut: { actions: ['dynamodb:PutItem'], resources: table },
    itemUpdate: { actions: ['dynamodb:UpdateItem'], resources: table },
    // Only createJob's release of an Idempotency-Key whose job was never queued.
    itemDelete: { actions: ['dynamodb:DeleteItem'], resources: table },
    // A batch's jobs, read by id after a Query of its pointers (store batchJobs.ts): views, summary, listings.
    itemBatchRead: { actions: ['dynamodb:BatchGetItem'], resources: table },
    // The sweeper's walk over job and batch items (re-enqueue lost, recover stale, expire old, finish batches);
    // nothing else scans.
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
    // A batch's job pointers (its own partition, store batchJobs.ts), and of no other partition.
    batchJobsQuery: {
      actions: ['dynamodb:Query'],
      resources: table,
      conditions: [
        {
          test: 'ForAllValues:StringLike',
          variable: 'dynamodb:LeadingKeys',
          values: [dbKeys.batch('*').pk],
        },
      ],
    },
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
    // The recent step pace of a model (store modelPace.ts: its hourly items), for a job view's estimates; no other
    // partition.
    paceQuery: {
      actions: ['dynamodb:Query'],
      resources: table,
      conditions: [
        {
          test: 'ForAllValues:StringLike',
          variable: 'dynamodb:LeadingKeys',
          values: [dbKeys.modelPacePartition('*')],
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
    // A job's (or batch's) end enqueues its webhook event (store outbox.ts); the dispatcher re-sends a message
    // with a delay for the next attempt.
    webhooksSend: { actions: ['sqs:SendMessage'], resources: [arns.webhooksQueueArn] },
    webhooksConsume: eventSource(arns.webhooksQueueArn),
    // A delivery given up after its last attempt: the dispatcher puts its message there itself.
    webhooksDlqSend: { actions: ['sqs:SendMessage'], resources: [arns.webhooksDlqArn] },
    batchConsume: eventSource(arns.batchQueueArn),
    // KMS: seal a new signing secret (first use, rotation), open a stored one (to show it, to sign with it).
    kmsSeal: webhookSecretKey('kms:Encrypt'),
    kmsOpen: webhookSecretKey('kms:Decrypt'),
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
    // The worker reads inputs (uploads/, jobs/, batch/, batch-out/ noise) and model bundles, which it lists
    // (bundleFetch.ts).
    workerList: listing('uploads', 'jobs', 'models', 'batch', 'batchOut'),
    // Batches: images dropped under batch/ start invert jobs (the worker reads them), whose noise goes under
    // batch-out/ with the batch's summary.json (written by whoever completes the batch: store batchCompletion.ts).
    // createBatch signs the upload form for the batch's prefix; views sign links to the noise and the summary.
    batchRead: { actions: ['s3:GetObject'], resources: objects('batch') },
    batchUploadsForm: { actions: ['s3:PutObject'], resources: objects('batch') },
    batchOutWrite: { actions: ['s3:PutObject'], resources: objects('batchOut') },
    batchOutRead: { actions: ['s3:GetObject'], resources: objects('batchOut') },
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
  // A job that could not be queued ends failed here: its webhook event (store outbox.ts).
  createJob: [
    'itemRead',
    'itemPut',
    'itemUpdate',
    'itemDelete',
    'catalogQuery',
    'activeJobsQuery',
    'usageQuery',
    'jobsSend',
    'webhooksSend',
    'uploadsRead',
    'uploadsList',
    'jobsRead',
    'jobsWrite',
    'fleetStart',
  ],
  // A batch job's noise is under batch-out/ (its view links it). A queued or running job's estimates: its place
  // among its tenant's active jobs (gsi2) and its model's recent pace.
  getJob: ['itemRead', 'itemUpdate', 'activeJobsQuery', 'paceQuery', 'jobsRead', 'batchOutRead'],
  // `?batch=`: the batch's pointers, then its jobs.
  listJobs: [
    'itemRead',
    'itemUpdate',
    'tenantJobsQuery',
    'batchJobsQuery',
    'itemBatchRead',
    'jobsRead',
    'batchOutRead',
  ],
  // A queued job canceled here: its usage entry, its webhook event, its tenant's held jobs released (store
  // outbox.ts) and, for a batch's last job, the batch's completion (summary.json, batch.completed).
  cancelJob: [
    'itemRead',
    'itemPut',
    'itemUpdate',
    'activeJobsQuery',
    'batchJobsQuery',
    'itemBatchRead',
    'jobsSend',
    'webhooksSend',
    'jobsRead',
    'batchOutRead',
    'batchOutWrite',
  ],
  createUpload: ['itemRead', 'itemPut', 'itemUpdate', 'uploadsWrite'],
  openapi: [],
  listModels: ['itemRead', 'itemUpdate', 'catalogQuery'],
  // A tombstone's view has no outputs to sign: no jobsRead.
  deleteJob: ['itemRead', 'itemUpdate', 'jobsList', 'jobsDelete'],
  getUsage: ['itemRead', 'itemUpdate', 'usageQuery'],
  // The sweeper also finishes the relays (webhook events) and batches (close, completion) a crash left.
  sweeper: [
    'itemRead',
    'itemPut',
    'itemUpdate',
    'tableScan',
    'activeJobsQuery',
    'batchJobsQuery',
    'itemBatchRead',
    'jobsSend',
    'jobsCount',
    'webhooksSend',
    'batchOutWrite',
  ],
  // The signing secret: sealed when created (first use, rotation), opened to be shown.
  getWebhookSecret: ['itemRead', 'itemUpdate', 'kmsSeal', 'kmsOpen'],
  rotateWebhookSecret: ['itemRead', 'itemUpdate', 'kmsSeal', 'kmsOpen'],
  // The event sent again with a fresh schedule; the answer is the job view.
  redeliverWebhook: ['itemRead', 'itemUpdate', 'webhooksSend', 'jobsRead', 'batchOutRead'],
  // The batch item, its params resolved from the catalog, and the upload form for its prefix; the answer is its
  // view (its pointers, none yet).
  createBatch: ['itemRead', 'itemPut', 'itemUpdate', 'catalogQuery', 'batchJobsQuery', 'batchUploadsForm'],
  // Counts from the batch's jobs; the summary's link once complete.
  getBatch: ['itemRead', 'itemUpdate', 'batchJobsQuery', 'itemBatchRead', 'batchOutRead'],
  // A closed batch whose jobs have all ended completes here: summary.json and batch.completed.
  closeBatch: [
    'itemRead',
    'itemPut',
    'itemUpdate',
    'batchJobsQuery',
    'itemBatchRead',
    'webhooksSend',
    'batchOutWrite',
    'batchOutRead',
  ],
  // Lambda polls the webhooks queue with its role. Per message: the delivery and its subject's view (output
  // links, a batch's counts and summary), the tenant's secrets (the first one created if none yet), the attempt
  // recorded; the next attempt re-sent with a delay, a given-up one into the DLQ.
  webhookDispatcher: [
    'webhooksConsume',
    'itemRead',
    'itemUpdate',
    'batchJobsQuery',
    'itemBatchRead',
    'webhooksSend',
    'webhooksDlqSend',
    'kmsSeal',
    'kmsOpen',
    'jobsRead',
    'batchOutRead',
  ],
  // Lambda polls the batch queue with its role. Per object: the batch and its pointer (taken back if the batch
  // completed meanwhile), admission as createJob's (the fleet started from zero), the job and its message; a job
  // refused by a budget ends failed at once (its relay: webhook, held jobs, the batch's completion); the batch's
  // count and its close at `expectedImages`.
  batchTrigger: [
    'batchConsume',
    'itemRead',
    'itemPut',
    'itemUpdate',
    'itemDelete',
    'activeJobsQuery',
    'usageQuery',
    'batchJobsQuery',
    'itemBatchRead',
    'jobsSend',
    'webhooksSend',
    'batchOutWrite',
    'fleetStart',
  ],
} as const satisfies Record<LambdaHandlerName, readonly GrantName[]>;

/**
 * The GPU worker: consume jobs, read inputs and model bundles (listing them, and missing objects as 404s), write
 * outputs and checkpoints, remove checkpoints, update job items; after a job's end, write its usage entry,
 * enqueue its webhook event, release its tenant's held jobs (store outbox.ts, dispatch.ts: the gsi2 Query, the
 * tenant's item, SendMessage) and complete its batch if it was the last job (summary.json). A batch's job reads
 * its image under batch/ and writes its noise under batch-out/, where a later job may read it as its noise. No
 * KMS: the dispatcher signs webhooks, the worker never sees a secret.
 */
export const WORKER_GRANTS = [
  'jobsConsume',
  'jobsSend',
  'webhooksSend',
  'itemRead',
  'itemPut',
  'itemUpdate',
  'activeJobsQuery',
  'batchJobsQuery',
  'itemBatchRead',
  'uploadsRead',
  'jobsRead',
  'jobsWrite',
  'jobsDelete',
  'modelsRead',
  'workerList',
  'batchRead',
  'batchOutRead',
  'batchOutWrite',
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

/** A role's trust policy: assumed by the AWS service `service` (e.g. ec2.amazonaws.com) alone. */
export function assumedBy(service: string): string {
  return JSON.stringify({
    Version: '2012-10-17',
    Statement: [{ Effect: 'Allow', Principal: { Service: service }, Action: 'sts:AssumeRole' }],
  });
}
