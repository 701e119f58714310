import { QUEUES, type QueueSettings } from '@obelm/core';
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
 * The jobs and webhooks queues, each with a DLQ. Visibility and receive limits are core's
 * (packages/core/src/queues.ts), the same the local stack creates its queues with.
 */
export class ObelmQueues extends pulumi.ComponentResource {
  readonly jobs: WorkQueue;
  readonly webhooks: WorkQueue;

  constructor(name: string, opts?: pulumi.ComponentResourceOptions) {
    super('obelm:queue:ObelmQueues', name, {}, opts);
    this.jobs = new WorkQueue('Jobs', QUEUES.jobs, { parent: this });
    this.webhooks = new WorkQueue('Webhooks', QUEUES.webhooks, { parent: this });
    this.registerOutputs({});
  }
}
