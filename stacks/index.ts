/**
 * The whole cloud for one stage: data (bucket, table, queues), the HTTP API, the GPU worker fleet, the playground
 * site and the alarms, composed from infra/ with this stage's settings. Runs inside `sst deploy` (SST globals
 * available).
 */
import { ServiceConfigSchema, s3Keys } from '@obelm/core';
import * as aws from '@pulumi/aws';
import { grants, select, WORKER_GRANTS } from '../infra/access.ts';
import { ObelmAlarms } from '../infra/alarms.ts';
import { createHttpApi, LOG_RETENTION } from '../infra/api.ts';
import { ObelmBucket } from '../infra/bucket.ts';
import { StageDiscovery } from '../infra/discovery.ts';
import { functionEnvironment, type GrantEnvironment } from '../infra/environment.ts';
import { GpuWorker, MODEL_CACHE } from '../infra/gpuWorker.ts';
import { createWorkerNetwork } from '../infra/network.ts';
import { createPlayground } from '../infra/playground.ts';
import { ObelmQueues } from '../infra/queues.ts';
import { WebhookSecretsKey } from '../infra/secrets.ts';
import { ObelmTable } from '../infra/table.ts';
import { createWorkerRepository, resolveWorkerImage, workerImageParameter } from '../infra/workerImage.ts';
import { settingsFor } from './settings.ts';

/** Set by scripts/pushWorkerImage.sh on a fresh stage: deploy only the ECR repository, so there is somewhere to push. */
export const BOOTSTRAP_REPOSITORY_ENV = 'OBELM_BOOTSTRAP_WORKER_REPOSITORY';

export async function deployStage(stage: string) {
  const settings = settingsFor(stage);
  const repositoryName = `obelm-${stage}-worker`;
  const bootstrap = process.env[BOOTSTRAP_REPOSITORY_ENV] === '1';
  const override = process.env.OBELM_WORKER_IMAGE;
  const pushed = override && !bootstrap ? undefined : await pushedWorkerImage(stage);
  if (bootstrap) {
    // Only before any image exists: on a running stage this program would describe nothing but the repository.
    if (pushed) throw new Error(`stage ${stage} already has a worker image (${pushed}); deploy normally`);
    return { workerRepository: createWorkerRepository(repositoryName).repositoryUrl };
  }
  // Fails here, before any resource is touched, when no image has been pushed.
  const image = resolveWorkerImage({ stage, override, pushed });
  if (!(settings.logRetentionDays in LOG_RETENTION)) {
    throw new Error(
      `stage ${stage}: logRetentionDays must be one of ${Object.keys(LOG_RETENTION).join(', ')}`,
    );
  }

  const storage = new ObelmBucket('Storage', {
    outputRetentionDays: settings.outputRetentionDays,
    protect: settings.protect,
  });
  const table = new ObelmTable('Table', { protect: settings.protect });
  const queues = new ObelmQueues('Queues');
  // Every object created under batch/ becomes a message of the batch queue (the batch trigger consumes it).
  storage.notifyBatchUploads(queues.batch.queue);
  const secretsKey = new WebhookSecretsKey('WebhookSecrets', { protect: settings.protect });

  const arns = {
    bucketArn: storage.bucket.arn,
    tableArn: table.table.arn,
    jobsQueueArn: queues.jobs.queue.arn,
    webhooksQueueArn: queues.webhooks.queue.arn,
    webhooksDlqArn: queues.webhooks.deadLetter.arn,
    batchQueueArn: queues.batch.queue.arn,
    webhookSecretsKeyArn: secretsKey.key.arn,
  };
  // The worker's grants need no worker service ARN; the API's do, so the API is built after the worker.
  const all = grants(arns);
  const environment = {
    OBELM_STAGE: stage,
    OBELM_BUCKET: storage.bucket.bucket,
    OBELM_TABLE: table.table.name,
    OBELM_JOBS_QUEUE_URL: queues.jobs.queue.url,
    OBELM_WEBHOOKS_QUEUE_URL: queues.webhooks.queue.url,
    OBELM_DEFAULT_MODEL: settings.worker.defaultModelBundle,
    OBELM_JOB_TTL_SECONDS: String(settings.limits.jobTtlSeconds),
    OBELM_PRESIGN_SECONDS: String(settings.limits.presignSeconds),
    OBELM_UPLOAD_MAX_BYTES: String(settings.limits.uploadMaxBytes),
    OBELM_OUTPUT_RETENTION_DAYS: String(settings.outputRetentionDays),
    OBELM_TENANT_LIMITS: JSON.stringify(settings.tenantLimits),
    OBELM_PRICES: JSON.stringify(settings.prices),
  };
  // Only the functions that may use these resources are told where they are (infra/environment.ts).
  const grantEnvironment: GrantEnvironment = {
    kmsSeal: { OBELM_KMS_KEY_ID: secretsKey.key.arn },
    kmsOpen: { OBELM_KMS_KEY_ID: secretsKey.key.arn },
    webhooksDlqSend: { OBELM_WEBHOOKS_DLQ_URL: queues.webhooks.deadLetter.url },
  };
  // Where `obelm admin --stage` finds the table and the bucket, and the default limits it shows (as the API
  // reads them).
  new StageDiscovery('Discovery', {
    stage,
    table: table.table.name,
    bucket: storage.bucket.bucket,
    tenantLimits: ServiceConfigSchema.shape.OBELM_TENANT_LIMITS.parse(environment.OBELM_TENANT_LIMITS),
  });

  const repository = createWorkerRepository(repositoryName);
  const network = createWorkerNetwork();
  const worker = new GpuWorker('Worker', {
    ...network,
    image,
    ...settings.gpu,
    queueName: queues.jobs.queue.name,
    // Where a baked AMI (settings.gpu.bakedAmi) copies its model bundles from.
    modelBucket: { name: storage.bucket.bucket, arn: storage.bucket.arn },
    access: select(all, WORKER_GRANTS),
    environment: {
      ...functionEnvironment(environment, WORKER_GRANTS, grantEnvironment),
      OBELM_PROVIDER: 'cuda',
      // Heartbeat and attempts keep core's defaults (packages/core/src/queues.ts): the queues are built on them.
      OBELM_STOP_GRACE_SECONDS: '90',
      OBELM_MODEL_BUNDLE: $interpolate`s3://${storage.bucket.bucket}/${s3Keys.model(settings.worker.defaultModelBundle)}`,
      OBELM_MODEL_CACHE: MODEL_CACHE.containerPath,
    },
    logRetentionDays: settings.logRetentionDays,
  });

  const { api } = createHttpApi({
    grants: grants({ ...arns, workerServiceArn: worker.service.id }),
    environment: {
      ...environment,
      // createJob starts the fleet when it enqueues into zero tasks (packages/api/src/jobs/fleet.ts).
      OBELM_WORKER_CLUSTER: worker.cluster.name,
      OBELM_WORKER_SERVICE: worker.service.name,
    },
    grantEnvironment,
    queueArns: {
      webhooks: queues.webhooks.queue.arn,
      batch: queues.batch.queue.arn,
    },
    rateLimit: settings.limits.apiRateLimit,
    logRetentionDays: settings.logRetentionDays as keyof typeof LOG_RETENTION,
  });

  // The playground is built with the API's URL, so the bucket's CORS rule, a resource of its own, comes after it
  // and adds the site's origin to the stage's.
  const playground = settings.playground ? createPlayground({ apiUrl: api.url }) : undefined;
  storage.allowBrowserOrigins([...settings.corsOrigins, ...(playground ? [playground.origin] : [])]);

  new ObelmAlarms('Alarms', {
    deadLetterQueues: {
      Jobs: queues.jobs.deadLetter.name,
      Webhooks: queues.webhooks.deadLetter.name,
      Batch: queues.batch.deadLetter.name,
    },
    jobsQueueName: queues.jobs.queue.name,
    maxJobSeconds: settings.maxJobSeconds,
    ...(settings.alarmEmail ? { alarmEmail: settings.alarmEmail } : {}),
  });

  return {
    api: api.url,
    bucket: storage.bucket.bucket,
    table: table.table.name,
    jobsQueue: queues.jobs.queue.url,
    batchQueue: queues.batch.queue.url,
    workerRepository: repository.repositoryUrl,
    workerCluster: worker.cluster.name,
    ...(playground ? { playground: playground.url } : {}),
  };
}

/** The digest scripts/pushWorkerImage.sh recorded for the stage; undefined before the first push. */
async function pushedWorkerImage(stage: string): Promise<string | undefined> {
  try {
    return (await aws.ssm.getParameter({ name: workerImageParameter(stage) })).value;
  } catch (err) {
    if (/ParameterNotFound/.test(String(err))) return undefined;
    throw err;
  }
}
