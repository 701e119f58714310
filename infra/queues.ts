import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';
import { InfraConfigError } from './errors.ts';

export interface WorkQueueArgs {
  /** Seconds a received message stays hidden; consumers extend it while they work. */
  visibilityTimeoutSeconds: number;
  /** Receives before SQS moves a message to the dead-letter queue. */
  maxReceiveCount: number;
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
 * The jobs queue's visibility timeout for a worker heartbeat interval. The worker extends a message's
 * visibility on every heartbeat, so the timeout must outlast at least two heartbeats (one missed beat
 * must not hand a running job to a second worker), yet stay short so a crashed worker's job returns
 * quickly. 120 s for the default 30 s heartbeat.
 */
export function jobsVisibilitySeconds(heartbeatSeconds: number): number {
  if (!(heartbeatSeconds > 0)) {
    throw new InfraConfigError('bad_heartbeat', `heartbeat must be > 0 s, got ${heartbeatSeconds}`);
  }
  return Math.max(120, Math.ceil(4 * heartbeatSeconds));
}

export interface ObelmQueuesArgs {
  heartbeatSeconds: number;
  /** Seconds the webhook dispatcher Lambda may run; its queue must hide a message at least that long. */
  webhookDispatchTimeoutSeconds: number;
  /**
   * Claims of one job before the worker fails it itself (OBELM_MAX_ATTEMPTS, default 3). The DLQ threshold
   * sits above it, so the worker records the failure on the job first and the DLQ only catches poison
   * messages the worker could not even parse or claim.
   */
  workerMaxAttempts: number;
}

/** The jobs and webhooks queues, each with a DLQ. */
export class ObelmQueues extends pulumi.ComponentResource {
  readonly jobs: WorkQueue;
  readonly webhooks: WorkQueue;

  constructor(name: string, args: ObelmQueuesArgs, opts?: pulumi.ComponentResourceOptions) {
    super('obelm:queue:ObelmQueues', name, {}, opts);
    this.jobs = new WorkQueue(
      'Jobs',
      {
        visibilityTimeoutSeconds: jobsVisibilitySeconds(args.heartbeatSeconds),
        maxReceiveCount: args.workerMaxAttempts + 2,
      },
      { parent: this },
    );
    this.webhooks = new WorkQueue(
      'Webhooks',
      {
        // AWS asks for >= 6x the function timeout on a Lambda event source, so retries of a throttled
        // batch do not see the message again while the first attempt still runs.
        visibilityTimeoutSeconds: 6 * args.webhookDispatchTimeoutSeconds,
        // The dispatcher retries with backoff by re-sending with a delay; SQS receives only guard crashes.
        maxReceiveCount: 5,
      },
      { parent: this },
    );
    this.registerOutputs({});
  }
}
