import { QUEUES, type QueueHandlerName, type QueueName, type QueueSettings } from '@obelm/core';
import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';
import { InfraConfigError } from './errors.ts';

/** Core's settings of a queue, plus what only the cloud queue sets. */
export interface WorkQueueArgs extends QueueSettings {
  /** Long-poll wait for ReceiveMessage (0..20). */
  receiveWaitSeconds?: number;
  /** How long an unconsumed message is kept (default 4 days). */
  retentionSeconds?: number;
}

const DAY = 24 * 3600;
/** SQS's ceiling on message retention; the DLQ keeps messages as long as SQS allows. */
const MAX_RETENTION_SECONDS = 14 * DAY;

/** A standard SQS queue with its own dead-letter queue and a redrive policy between them. */
export class WorkQueue extends pulumi.ComponentResource {
  readonly queue: aws.sqs.Queue;
  readonly deadLetter: aws.sqs.Queue;

  constructor(name: string, args: WorkQueueArgs, opts?: pulumi.ComponentResourceOptions) {
    super('obelm:queue:WorkQueue', name, {}, opts);
    if (args.maxReceiveCount < 1) {
      throw new InfraConfigError('bad_max_receive_count', `${name}: maxReceiveCount must be >= 1`);
    }
    const retention = args.retentionSeconds ?? 4 * DAY;
    this.deadLetter = new aws.sqs.Queue(
      `${name}Dlq`,
      { messageRetentionSeconds: MAX_RETENTION_SECONDS, sqsManagedSseEnabled: true },
      { parent: this },
    );
    this.queue = new aws.sqs.Queue(
      name,
      {
        visibilityTimeoutSeconds: args.visibilityTimeoutSeconds,
        receiveWaitTimeSeconds: args.receiveWaitSeconds ?? 20,
        messageRetentionSeconds: retention,
        sqsManagedSseEnabled: true,
        redrivePolicy: pulumi.jsonStringify({
          deadLetterTargetArn: this.deadLetter.arn,
          maxReceiveCount: args.maxReceiveCount,
        }),
      },
      { parent: this },
    );
    // Only this queue may redrive into the DLQ (and the console's "redrive back" works).
    new aws.sqs.RedriveAllowPolicy(
      `${name}DlqAllow`,
      {
        queueUrl: this.deadLetter.url,
        redriveAllowPolicy: pulumi.jsonStringify({
          redrivePermission: 'byQueue',
          sourceQueueArns: [this.queue.arn],
        }),
      },
      { parent: this },
    );
    this.registerOutputs({ queueUrl: this.queue.url, deadLetterUrl: this.deadLetter.url });
  }
}

/**
 * The jobs, webhooks and batch queues, each with a DLQ. Visibility and receive limits are core's
 * (packages/core/src/queues.ts), the same the local stack creates its queues with. The batch queue receives the
 * bucket's ObjectCreated notifications under batch/ (infra/bucket.ts `notifyBatchUploads`).
 */
export class ObelmQueues extends pulumi.ComponentResource {
  readonly jobs: WorkQueue;
  readonly webhooks: WorkQueue;
  readonly batch: WorkQueue;

  constructor(name: string, opts?: pulumi.ComponentResourceOptions) {
    super('obelm:queue:ObelmQueues', name, {}, opts);
    this.jobs = new WorkQueue('Jobs', QUEUES.jobs, { parent: this });
    this.webhooks = new WorkQueue('Webhooks', QUEUES.webhooks, { parent: this });
    this.batch = new WorkQueue('Batch', QUEUES.batch, { parent: this });
    this.registerOutputs({});
  }
}

/** The queue each queue-fed Lambda handler (core QUEUE_HANDLERS) consumes. */
export const QUEUE_OF = {
  webhookDispatcher: 'webhooks',
  batchTrigger: 'batch',
} as const satisfies Record<QueueHandlerName, QueueName>;

/** The queues a Lambda handler consumes. */
export type HandlerQueueName = (typeof QUEUE_OF)[QueueHandlerName];

/**
 * A queue handler's Lambda timeout: a sixth of its queue's visibility, the ratio AWS asks of a Lambda event
 * source (core derives the visibilities from the timeouts: WEBHOOK_DISPATCH_TIMEOUT_SECONDS).
 */
export const queueHandlerTimeoutSeconds = (handler: QueueHandlerName): number =>
  QUEUES[QUEUE_OF[handler]].visibilityTimeoutSeconds / 6;

/** Messages per invocation: SQS's most per receive (the local queue consumer receives as many). */
export const QUEUE_BATCH_SIZE = 10;

/**
 * Lambda polls `queueArn` for the function, with the function's role (its grants must allow ReceiveMessage,
 * DeleteMessage and GetQueueAttributes on the queue: access.ts `eventSource`). The handler answers
 * `batchItemFailures` (middy's partial batch failure): only those messages come back after the visibility
 * timeout, the others are deleted.
 */
export function queueEventSource(
  name: string,
  args: { queueArn: pulumi.Input<string>; functionName: pulumi.Input<string> },
  opts?: pulumi.CustomResourceOptions,
): aws.lambda.EventSourceMapping {
  return new aws.lambda.EventSourceMapping(
    name,
    {
      eventSourceArn: args.queueArn,
      functionName: args.functionName,
      batchSize: QUEUE_BATCH_SIZE,
      functionResponseTypes: ['ReportBatchItemFailures'],
      enabled: true,
    },
    opts,
  );
}
