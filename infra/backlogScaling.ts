import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';
import { InfraConfigError } from './errors.ts';

/** Application Auto Scaling accepts at most this many step adjustments in one policy. */
const MAX_STEPS = 20;

export interface BacklogStep {
  /** Backlog above the alarm threshold (1 job), inclusive. */
  lower: number;
  /** Exclusive; undefined = no upper bound. */
  upper?: number;
  tasks: number;
}

/**
 * The task count for each backlog range: tasks = min(maxTasks, ceil(backlog / jobsPerTask)), as steps of
 * an ExactCapacity policy. Step bounds are offsets from the alarm threshold of 1 job, so step k (1-based)
 * covers backlog in [(k-1)*jobsPerTask + 1, k*jobsPerTask]. Above MAX_STEPS tasks the last step jumps to
 * maxTasks.
 */
export function backlogSteps(jobsPerTask: number, maxTasks: number): BacklogStep[] {
  if (!Number.isInteger(jobsPerTask) || jobsPerTask < 1) {
    throw new InfraConfigError(
      'bad_jobs_per_task',
      `jobsPerTask must be an integer >= 1, got ${jobsPerTask}`,
    );
  }
  if (!Number.isInteger(maxTasks) || maxTasks < 1) {
    throw new InfraConfigError('bad_max_tasks', `maxTasks must be an integer >= 1, got ${maxTasks}`);
  }
  const count = Math.min(maxTasks, MAX_STEPS);
  return Array.from({ length: count }, (_, i) => {
    const last = i === count - 1;
    return {
      lower: i * jobsPerTask,
      ...(last ? {} : { upper: (i + 1) * jobsPerTask }),
      tasks: last ? maxTasks : i + 1,
    };
  });
}

export interface BacklogScalingArgs {
  clusterName: pulumi.Input<string>;
  serviceName: pulumi.Input<string>;
  queueName: pulumi.Input<string>;
  minTasks: number;
  maxTasks: number;
  jobsPerTask: number;
  /** Minutes of an empty queue (nothing visible, nothing in flight) before the service goes to minTasks. */
  idleMinutes?: number;
}

/**
 * Drives an ECS service's desired count from the queue backlog, counting messages in flight as well as
 * visible ones: a running job holds its message in flight (the worker keeps extending its visibility), so
 * the desired count never drops below the number of jobs being worked on. The worker also sets ECS task
 * scale-in protection while it holds a job, so when the count does drop, ECS stops an idle task.
 *
 * Two alarms on the same metric (visible + in flight): "backlog >= 1" runs the step policy (ExactCapacity,
 * so it also starts the first task from zero), and "backlog == 0 for idleMinutes" sets minTasks (usually 0).
 */
export class BacklogScaling extends pulumi.ComponentResource {
  readonly target: aws.appautoscaling.Target;
  readonly busyAlarm: aws.cloudwatch.MetricAlarm;
  readonly idleAlarm: aws.cloudwatch.MetricAlarm;

  constructor(name: string, args: BacklogScalingArgs, opts?: pulumi.ComponentResourceOptions) {
    super('obelm:worker:BacklogScaling', name, {}, opts);
    if (args.minTasks < 0 || args.minTasks > args.maxTasks) {
      throw new InfraConfigError('bad_min_tasks', `${name}: minTasks must be within 0..maxTasks`);
    }
    const parent = { parent: this };
    const steps = backlogSteps(args.jobsPerTask, args.maxTasks);

    this.target = new aws.appautoscaling.Target(
      `${name}Target`,
      {
        serviceNamespace: 'ecs',
        scalableDimension: 'ecs:service:DesiredCount',
        resourceId: pulumi.interpolate`service/${args.clusterName}/${args.serviceName}`,
        minCapacity: args.minTasks,
        maxCapacity: args.maxTasks,
      },
      parent,
    );
    const exactCapacity = (
      policyName: string,
      stepAdjustments: aws.types.input.appautoscaling.PolicyStepScalingPolicyConfigurationStepAdjustment[],
    ) =>
      new aws.appautoscaling.Policy(
        policyName,
        {
          policyType: 'StepScaling',
          serviceNamespace: this.target.serviceNamespace,
          scalableDimension: this.target.scalableDimension,
          resourceId: this.target.resourceId,
          stepScalingPolicyConfiguration: {
            adjustmentType: 'ExactCapacity',
            metricAggregationType: 'Maximum',
            cooldown: 60,
            stepAdjustments,
          },
        },
        parent,
      );

    const follow = exactCapacity(
      `${name}FollowBacklog`,
      steps.map((s) => ({
        metricIntervalLowerBound: String(s.lower),
        ...(s.upper === undefined ? {} : { metricIntervalUpperBound: String(s.upper) }),
        scalingAdjustment: s.tasks,
      })),
    );
    const idle = exactCapacity(`${name}Idle`, [
      { metricIntervalUpperBound: '0', scalingAdjustment: args.minTasks },
    ]);

    const backlog = backlogMetric(args.queueName);
    this.busyAlarm = new aws.cloudwatch.MetricAlarm(
      `${name}Busy`,
      {
        alarmDescription: 'Jobs queued or running: keep ceil(backlog / jobsPerTask) workers.',
        comparisonOperator: 'GreaterThanOrEqualToThreshold',
        threshold: 1,
        evaluationPeriods: 1,
        metricQueries: backlog,
        treatMissingData: 'notBreaching',
        alarmActions: [follow.arn],
      },
      parent,
    );
    const idleMinutes = args.idleMinutes ?? 10;
    this.idleAlarm = new aws.cloudwatch.MetricAlarm(
      `${name}IdleAlarm`,
      {
        alarmDescription: `No job queued or running for ${idleMinutes} min: scale workers to the minimum.`,
        comparisonOperator: 'LessThanOrEqualToThreshold',
        threshold: 0,
        evaluationPeriods: idleMinutes,
        metricQueries: backlog,
        // Missing data never stops a worker: only measured zeros do (workers' long polls keep the queue's
        // metrics flowing while any worker runs).
        treatMissingData: 'notBreaching',
        alarmActions: [idle.arn],
      },
      parent,
    );
    this.registerOutputs({});
  }
}

/** Visible + in-flight messages of a queue, per minute. */
export function backlogMetric(
  queueName: pulumi.Input<string>,
): aws.types.input.cloudwatch.MetricAlarmMetricQuery[] {
  const sqsMetric = (id: string, metricName: string) => ({
    id,
    metric: {
      namespace: 'AWS/SQS',
      metricName,
      dimensions: { QueueName: queueName },
      period: 60,
      stat: 'Maximum',
    },
    returnData: false,
  });
  return [
    sqsMetric('visible', 'ApproximateNumberOfMessagesVisible'),
    sqsMetric('inFlight', 'ApproximateNumberOfMessagesNotVisible'),
    { id: 'backlog', expression: 'visible + inFlight', label: 'Jobs queued or running', returnData: true },
  ];
}
