import { beforeAll, describe, expect, it } from 'vitest';
import { settingsFor } from '../../stacks/settings.ts';
import { ofType, one, type Recorded, recordResources, resolved, settle } from './pulumiMocks.ts';

let recorded: Recorded[];
const image = `123456789012.dkr.ecr.us-east-1.amazonaws.com/obelm-worker@sha256:${'ab'.repeat(32)}`;
let infra: typeof import('../../infra/gpuWorker.ts');
let access: typeof import('../../infra/access.ts');

const arns = {
  bucketArn: 'arn:aws:s3:::obelm-bucket',
  tableArn: 'arn:aws:dynamodb:us-east-1:123456789012:table/obelm',
  jobsQueueArn: 'arn:aws:sqs:us-east-1:123456789012:jobs',
  webhooksQueueArn: 'arn:aws:sqs:us-east-1:123456789012:webhooks',
  webhooksDlqArn: 'arn:aws:sqs:us-east-1:123456789012:webhooks-dlq',
  batchQueueArn: 'arn:aws:sqs:us-east-1:123456789012:batch',
  webhookSecretsKeyArn: 'arn:aws:kms:us-east-1:123456789012:key/k',
};

beforeAll(async () => {
  recorded = await recordResources();
  infra = await import('../../infra/gpuWorker.ts');
  access = await import('../../infra/access.ts');
  new infra.GpuWorker('Worker', {
    vpcId: 'vpc-1',
    subnetIds: ['subnet-a', 'subnet-b'],
    assignPublicIp: true,
    image,
    // The stage default: what a stage launches unless it lists instance types itself.
    instanceTypes: settingsFor('production').gpu.instanceTypes,
    minWorkers: 0,
    maxWorkers: 3,
    jobsPerWorker: 2,
    onDemandBase: 0,
    onDemandPercentAboveBase: 25,
    rootVolumeGiB: 100,
    queueName: 'jobs',
    access: access.select(access.grants(arns), access.WORKER_GRANTS),
    environment: { OBELM_PROVIDER: 'cuda', OBELM_HEARTBEAT_SECONDS: '30' },
    logRetentionDays: 14,
  });
  await settle();
});

const container = () =>
  JSON.parse(one(recorded, 'aws:ecs/taskDefinition:TaskDefinition').inputs.containerDefinitions as string)[0];

describe('GPU worker task', () => {
  it('requires one GPU and the EC2 launch type', () => {
    const task = one(recorded, 'aws:ecs/taskDefinition:TaskDefinition');
    expect(task.inputs.requiresCompatibilities).toEqual(['EC2']);
    expect(container().resourceRequirements).toEqual([{ type: 'GPU', value: '1' }]);
  });

  it('gets SIGTERM with the whole spot notice window to checkpoint, through an init process', () => {
    expect(container().stopTimeout).toBe(120);
    expect(container().linuxParameters.initProcessEnabled).toBe(true);
  });

  it('runs the image pinned by digest', () => {
    expect(container().image).toBe(image);
  });

  it('passes the environment, with the region (IMDS is out of reach), and mounts the instance model cache', () => {
    expect(container().environment).toEqual([
      { name: 'OBELM_PROVIDER', value: 'cuda' },
      { name: 'OBELM_HEARTBEAT_SECONDS', value: '30' },
      { name: 'AWS_REGION', value: 'us-east-1' },
    ]);
    expect(container().mountPoints).toEqual([
      { sourceVolume: 'model-cache', containerPath: '/var/cache/obelm', readOnly: false },
    ]);
    const task = one(recorded, 'aws:ecs/taskDefinition:TaskDefinition');
    expect(task.inputs.volumes).toEqual([{ name: 'model-cache', hostPath: '/var/cache/obelm' }]);
  });

  it('is health-checked by the worker itself, after the model has had time to load', () => {
    expect(container().healthCheck).toEqual({
      command: ['CMD', 'node', '/app/worker.mjs', '--health'],
      interval: 30,
      timeout: 10,
      retries: 3,
      startPeriod: 300,
    });
  });
});

describe('GPU worker service', () => {
  it('is created only after the capacity provider is associated with the cluster', () => {
    const service = one(recorded, 'aws:ecs/service:Service');
    expect(service.dependencies).toContain('WorkerCapacityProviders');
    // The association is not one of its inputs: only the explicit dependsOn orders them.
    expect(JSON.stringify(service.inputs)).not.toContain('WorkerCapacityProviders');
  });

  it('stops a task without waiting for a replacement, and has instances for a deploy at full scale', () => {
    const service = one(recorded, 'aws:ecs/service:Service');
    expect(service.inputs.deploymentMinimumHealthyPercent).toBe(0);
    expect(service.inputs.deploymentMaximumPercent).toBe(infra.DEPLOYMENT_MAXIMUM_PERCENT);
    // maxWorkers 3 tasks may overlap with 3 of the new revision: 6 instances, one GPU task each.
    expect(one(recorded, 'aws:autoscaling/group:Group').inputs.maxSize).toBe(6);
    expect(one(recorded, 'aws:appautoscaling/target:Target').inputs.maxCapacity).toBe(3);
  });

  it('reports per-task metrics through Container Insights', () => {
    expect(one(recorded, 'aws:ecs/cluster:Cluster').inputs.settings).toEqual([
      { name: 'containerInsights', value: 'enabled' },
    ]);
  });
});

describe('GPU capacity', () => {
  it('keeps containers away from the instance role: IMDSv2 only, hop limit 1', () => {
    const template = one(recorded, 'aws:ec2/launchTemplate:LaunchTemplate');
    expect(template.inputs.metadataOptions).toEqual({
      httpTokens: 'required',
      httpPutResponseHopLimit: 1,
      httpEndpoint: 'enabled',
    });
    // Bridge mode: tasks take their role from the ECS agent's endpoint, not from IMDS.
    expect(one(recorded, 'aws:ecs/taskDefinition:TaskDefinition').inputs.networkMode).toBe('bridge');
  });

  it('launches the ECS GPU AMI with spot draining turned on in the user data', () => {
    const template = one(recorded, 'aws:ec2/launchTemplate:LaunchTemplate');
    expect(template.inputs.imageId).toBe(`resolve:ssm:${infra.ECS_GPU_AMI_PARAMETER}`);
    expect(infra.ECS_GPU_AMI_PARAMETER).toContain('/gpu/');
    const script = Buffer.from(template.inputs.userData as string, 'base64').toString();
    expect(script).toContain('ECS_ENABLE_SPOT_INSTANCE_DRAINING=true');
    expect(script).toContain('ECS_CLUSTER=WorkerCluster-name');
    expect(script).toContain('ECS_CONTAINER_STOP_TIMEOUT=120s');
  });

  it('mixes spot and on-demand instances of one family by default, in a group that can reach zero', () => {
    const group = one(recorded, 'aws:autoscaling/group:Group');
    expect(group.inputs.minSize).toBe(0);
    expect(group.inputs.protectFromScaleIn).toBe(true);
    const policy = group.inputs.mixedInstancesPolicy as {
      launchTemplate: { overrides: { instanceType: string }[] };
      instancesDistribution: Record<string, unknown>;
    };
    const types = policy.launchTemplate.overrides.map((o) => o.instanceType);
    expect(types).toEqual(settingsFor('production').gpu.instanceTypes);
    // One family = one GPU model: noise artifacts stay exact from job to job (docs/math.md §10).
    expect(new Set(types.map((type) => type.split('.')[0]))).toEqual(new Set(['g6']));
    expect(policy.instancesDistribution).toMatchObject({
      onDemandBaseCapacity: 0,
      onDemandPercentageAboveBaseCapacity: 25,
      spotAllocationStrategy: 'price-capacity-optimized',
    });
  });

  it('lets the capacity provider scale the group with termination protection', () => {
    const provider = one(recorded, 'aws:ecs/capacityProvider:CapacityProvider');
    const asg = provider.inputs.autoScalingGroupProvider as Record<string, unknown>;
    expect(asg.managedTerminationProtection).toBe('ENABLED');
    expect(asg.managedScaling).toMatchObject({ status: 'ENABLED', targetCapacity: 100 });
    const service = one(recorded, 'aws:ecs/service:Service');
    expect(service.inputs.desiredCount).toBe(0);
    expect(service.inputs.capacityProviderStrategies).toEqual([
      { capacityProvider: 'WorkerCapacity-name', weight: 1, base: 0 },
    ]);
  });

  it('rejects an instance type without a GPU', () => {
    expect(
      () =>
        new infra.GpuWorker('Bad', {
          vpcId: 'v',
          subnetIds: [],
          assignPublicIp: true,
          image: 'i',
          instanceTypes: ['m5.xlarge'],
          minWorkers: 0,
          maxWorkers: 1,
          jobsPerWorker: 1,
          onDemandBase: 0,
          onDemandPercentAboveBase: 0,
          rootVolumeGiB: 50,
          queueName: 'q',
          access: [],
          environment: {},
          logRetentionDays: 1,
        }),
    ).toThrow(expect.objectContaining({ code: 'not_a_gpu_instance' }));
  });
});

describe('backlog scaling', () => {
  it('scales the service between 0 and max', () => {
    const target = one(recorded, 'aws:appautoscaling/target:Target');
    expect(target.inputs).toMatchObject({
      minCapacity: 0,
      maxCapacity: 3,
      scalableDimension: 'ecs:service:DesiredCount',
    });
    expect(target.inputs.resourceId).toBe('service/WorkerCluster-name/WorkerService-name');
  });

  it('counts messages in flight as well as visible ones in both alarms', () => {
    for (const alarm of ofType(recorded, 'aws:cloudwatch/metricAlarm:MetricAlarm')) {
      const queries = alarm.inputs.metricQueries as {
        id: string;
        metric?: { metricName: string };
        expression?: string;
      }[];
      const metrics = queries.flatMap((q) => (q.metric ? [q.metric.metricName] : []));
      expect(metrics).toEqual([
        'ApproximateNumberOfMessagesVisible',
        'ApproximateNumberOfMessagesNotVisible',
      ]);
      expect(queries.find((q) => q.expression)?.expression).toBe('visible + inFlight');
    }
  });

  it('starts from zero and returns to zero through exact-capacity steps', () => {
    const follow = one(recorded, 'aws:appautoscaling/policy:Policy', 'WorkerScalingFollowBacklog');
    const config = follow.inputs.stepScalingPolicyConfiguration as {
      adjustmentType: string;
      stepAdjustments: {
        metricIntervalLowerBound?: string;
        metricIntervalUpperBound?: string;
        scalingAdjustment: number;
      }[];
    };
    expect(config.adjustmentType).toBe('ExactCapacity');
    // Threshold 1 job, 2 jobs per worker: backlog 1-2 -> 1 worker, 3-4 -> 2, 5+ -> 3.
    expect(config.stepAdjustments).toEqual([
      { metricIntervalLowerBound: '0', metricIntervalUpperBound: '2', scalingAdjustment: 1 },
      { metricIntervalLowerBound: '2', metricIntervalUpperBound: '4', scalingAdjustment: 2 },
      { metricIntervalLowerBound: '4', scalingAdjustment: 3 },
    ]);
    const idle = one(recorded, 'aws:appautoscaling/policy:Policy', 'WorkerScalingIdle');
    expect((idle.inputs.stepScalingPolicyConfiguration as typeof config).stepAdjustments).toEqual([
      { metricIntervalUpperBound: '0', scalingAdjustment: 0 },
    ]);
    const idleAlarm = one(recorded, 'aws:cloudwatch/metricAlarm:MetricAlarm', 'WorkerScalingIdleAlarm');
    expect(idleAlarm.inputs).toMatchObject({
      comparisonOperator: 'LessThanOrEqualToThreshold',
      threshold: 0,
    });
  });
});

describe('worker IAM', () => {
  const taskPolicy = async () =>
    JSON.parse(
      await resolved(
        one(recorded, 'aws:iam/rolePolicy:RolePolicy', 'WorkerTaskAccess').inputs.policy as string,
      ),
    );

  it('scopes S3 to prefixes, SQS to the jobs and webhooks queues and DynamoDB to the table', async () => {
    const statements = (await taskPolicy()).Statement as { Action: string[]; Resource: string[] }[];
    const resources = statements.flatMap((s) => s.Resource);
    expect(resources.filter((r) => r.startsWith('arn:aws:s3')).sort()).toEqual([
      'arn:aws:s3:::obelm-bucket', // ListBucket only, with an s3:prefix condition
      'arn:aws:s3:::obelm-bucket/batch-out/*', // a batch job's noise, written
      'arn:aws:s3:::obelm-bucket/batch-out/*', // ... and read as a later job's noise
      'arn:aws:s3:::obelm-bucket/batch/*', // a batch job's image
      'arn:aws:s3:::obelm-bucket/jobs/*',
      'arn:aws:s3:::obelm-bucket/jobs/*',
      'arn:aws:s3:::obelm-bucket/jobs/*',
      'arn:aws:s3:::obelm-bucket/models/*',
      'arn:aws:s3:::obelm-bucket/uploads/*',
    ]);
    expect(new Set(resources.filter((r) => r.startsWith('arn:aws:sqs')))).toEqual(
      new Set([arns.jobsQueueArn, arns.webhooksQueueArn]),
    );
    // The table, and its active-jobs index (the worker releases a tenant's held jobs when one ends).
    expect(new Set(resources.filter((r) => r.startsWith('arn:aws:dynamodb')))).toEqual(
      new Set([arns.tableArn, `${arns.tableArn}/index/gsi2`]),
    );
    expect(statements.flatMap((s) => s.Action).some((a) => a.endsWith('*'))).toBe(false);
  });

  it("consumes the jobs queue, sends to it (released held jobs) and enqueues jobs' webhook events", async () => {
    const statements = (await taskPolicy()).Statement as { Action: string[]; Resource: string[] }[];
    const on = (arn: string) => statements.filter((s) => s.Resource.includes(arn)).flatMap((s) => s.Action);
    expect(on(arns.jobsQueueArn)).toContain('sqs:ChangeMessageVisibility');
    expect(on(arns.jobsQueueArn)).toContain('sqs:SendMessage');
    expect(on(arns.webhooksQueueArn)).toEqual(['sqs:SendMessage']);
    for (const arn of [arns.webhooksDlqArn, arns.batchQueueArn]) expect(on(arn)).toEqual([]);
  });

  it('never holds the webhook secrets key: the dispatcher signs, not the worker', async () => {
    const statements = (await taskPolicy()).Statement as { Action: string[]; Resource: string[] }[];
    expect(statements.flatMap((s) => s.Action).filter((a) => a.startsWith('kms:'))).toEqual([]);
    expect(statements.flatMap((s) => s.Resource)).not.toContain(arns.webhookSecretsKeyArn);
  });

  it('keeps bucket listing to the prefixes it reads, and lets a missing object be a 404', async () => {
    const statements = (await taskPolicy()).Statement as { Action: string[]; Condition?: unknown }[];
    const list = statements.find((s) => s.Action.includes('s3:ListBucket'));
    expect(list?.Condition).toEqual({
      StringLikeIfExists: { 's3:prefix': ['uploads/*', 'jobs/*', 'models/*', 'batch/*', 'batch-out/*'] },
    });
  });
});
