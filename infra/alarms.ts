import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';

export interface ObelmAlarmsArgs {
  /** Dead-letter queues whose depth must stay zero, by a readable label. */
  deadLetterQueues: Record<string, pulumi.Input<string>>;
  /** The jobs queue: its oldest unfinished message tells how long a job has been queued or running. */
  jobsQueueName: pulumi.Input<string>;
  /** A job older than this (queued + running) is treated as stuck. */
  maxJobSeconds: number;
  alarmEmail?: string;
}

/**
 * Operational alarms, all published to one SNS topic:
 * - a message in any DLQ (a job or webhook the system gave up on);
 * - a job stuck in `running`: the jobs queue's oldest non-deleted message (in flight included, since a
 *   running job's message stays in flight until the worker deletes it) is older than maxJobSeconds. A worker
 *   that hangs but keeps heart-beating shows up here; one that dies returns its job to the queue and, after
 *   too many receives, to the DLQ.
 */
export class ObelmAlarms extends pulumi.ComponentResource {
  readonly topic: aws.sns.Topic;

  constructor(name: string, args: ObelmAlarmsArgs, opts?: pulumi.ComponentResourceOptions) {
    super('obelm:ops:ObelmAlarms', name, {}, opts);
    const parent = { parent: this };
    this.topic = new aws.sns.Topic(`${name}Topic`, {}, parent);
    if (args.alarmEmail) {
      new aws.sns.TopicSubscription(
        `${name}Email`,
        { topic: this.topic.arn, protocol: 'email', endpoint: args.alarmEmail },
        parent,
      );
    }
    const notify = [this.topic.arn];

    for (const [label, queueName] of Object.entries(args.deadLetterQueues)) {
      new aws.cloudwatch.MetricAlarm(
        `${name}${label}DlqDepth`,
        {
          alarmDescription: `Messages in the ${label} dead-letter queue: inspect and redrive them.`,
          namespace: 'AWS/SQS',
          metricName: 'ApproximateNumberOfMessagesVisible',
          dimensions: { QueueName: queueName },
          statistic: 'Maximum',
          period: 300,
          evaluationPeriods: 1,
          comparisonOperator: 'GreaterThanThreshold',
          threshold: 0,
          treatMissingData: 'notBreaching',
          alarmActions: notify,
          okActions: notify,
        },
        parent,
      );
    }

    new aws.cloudwatch.MetricAlarm(
      `${name}StuckJob`,
      {
        alarmDescription: `A job has been queued or running for more than ${args.maxJobSeconds} s.`,
        namespace: 'AWS/SQS',
        metricName: 'ApproximateAgeOfOldestMessage',
        dimensions: { QueueName: args.jobsQueueName },
        statistic: 'Maximum',
        period: 300,
        evaluationPeriods: 2,
        comparisonOperator: 'GreaterThanThreshold',
        threshold: args.maxJobSeconds,
        treatMissingData: 'notBreaching',
        alarmActions: notify,
        okActions: notify,
      },
      parent,
    );
    this.registerOutputs({ topicArn: this.topic.arn });
  }
}
