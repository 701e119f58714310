import { dirname } from 'node:path';
import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';
import { assumedBy, type Grant, policyDocument } from './access.ts';
import { BacklogScaling } from './backlogScaling.ts';
import { InfraConfigError } from './errors.ts';
import { rootVolume } from './rootVolume.ts';
import { ecrRepositoryOf, WorkerAmi } from './workerAmi.ts';

/** ECS GPU-optimized Amazon Linux 2023 AMI, resolved by EC2 at every launch (always the latest patch). */
export const ECS_GPU_AMI_PARAMETER =
  '/aws/service/ecs/optimized-ami/amazon-linux-2023/gpu/recommended/image_id';

/**
 * Seconds between SIGTERM and SIGKILL. A spot interruption notice comes 2 minutes before the instance is
 * reclaimed; with spot draining on, ECS stops the task on the notice, so the worker gets SIGTERM right away
 * and up to this long to checkpoint (it aims for OBELM_STOP_GRACE_SECONDS = 90 to leave margin).
 * 120 s is also the most the notice window can honour.
 */
export const STOP_TIMEOUT_SECONDS = 120;

/**
 * Deploys may run this share of the desired count at once (old tasks finishing their jobs under task
 * protection + new ones). The group's maximum leaves room for it: the service's desired count never exceeds
 * maxWorkers (backlog scaling), so the extra instances exist only while a deploy or a spot replacement
 * overlaps old and new tasks, and managed scaling retires them when the old tasks stop. Without the headroom a
 * deploy at full scale would wait in PROVISIONING for running jobs to end.
 */
export const DEPLOYMENT_MAXIMUM_PERCENT = 200;

/**
 * The container's health check. `worker.mjs --health` (WORKDIR /app, the image's ENTRYPOINT script) exits 0
 * while the worker's health file is fresh, else 1; a worker that cannot load its execution provider never
 * writes it, so ECS replaces the task instead of billing a GPU that does nothing. The start period covers the
 * model download into an empty cache and the session load (the most ECS allows is 300 s).
 */
export const HEALTH_CHECK = {
  command: ['CMD', 'node', '/app/worker.mjs', '--health'],
  interval: 30,
  timeout: 10,
  retries: 3,
  startPeriod: 300,
} as const;

/**
 * GPU metrics from each instance: the CloudWatch agent's `nvidia_gpu` plugin (it reads nvidia-smi, which the ECS
 * GPU AMI ships), one data point a minute per metric and GPU, dimensioned by instance and group. Each measurement
 * is a custom metric per instance (docs/deploy.md, "Health and metrics", has the cost).
 */
export const GPU_METRICS = {
  namespace: 'obelm/gpu',
  intervalSeconds: 60,
  measurements: [
    'utilization_gpu',
    'utilization_memory',
    'memory_used',
    'memory_total',
    'temperature_gpu',
    'power_draw',
  ],
  configPath: '/opt/aws/amazon-cloudwatch-agent/etc/obelm-gpu.json',
} as const;

/**
 * Where the instance keeps model bundles between tasks, where the container sees them, and who owns them (the
 * image's non-root user, uid 10001).
 */
export const MODEL_CACHE = {
  hostPath: '/var/cache/obelm',
  containerPath: '/var/cache/obelm',
  owner: 10001,
} as const;

/** A GPU capacity plan: which instances, how many, and how much of it may be spot (stacks/settings.ts). */
export interface GpuCapacity {
  /** Instance types the group may launch, most preferred first; each must carry an NVIDIA GPU (g5, g6, ...). */
  instanceTypes: string[];
  /** Workers (= GPU instances, one task each) when the queue is empty. 0 means no GPU cost at idle. */
  minWorkers: number;
  maxWorkers: number;
  /** Queued + running jobs one worker is expected to hold before another one is started. */
  jobsPerWorker: number;
  /** Always-on-demand instances before the spot mix applies (0 = everything may be spot). */
  onDemandBase: number;
  /** Share of instances above the base that are on-demand, 0..100. */
  onDemandPercentAboveBase: number;
  /** Root volume: the GPU AMI, the worker image and the model cache share it. */
  rootVolumeGiB: number;
  /**
   * Off by default. Stopped, already booted on-demand instances for the first `size` workers: a second,
   * on-demand-only group of `instanceTypes[0]` (EC2 Auto Scaling refuses a warm pool on a group with a mixed
   * instances policy or spot) that the service fills first; the mixed group takes the bursts beyond it.
   * At idle the pool costs its EBS volumes only (docs/deploy.md, "Cold start options").
   */
  warmPool?: { size: number };
  /**
   * Off by default. Keep `minWorkers` workers running from `start` to `end` (Application Auto Scaling cron
   * expressions, `cron(min hour day month weekday year)`, in `timezone`, an IANA name), e.g. office hours.
   * Outside the window the minimum is the group's own `minWorkers`. Billed as instance-hours.
   */
  scheduledMinimum?: { minWorkers: number; start: string; end: string; timezone: string };
  /**
   * Off by default. Launch every instance (spot, on demand and warm pool) from an AMI baked by EC2 Image Builder
   * (infra/workerAmi.ts) with the worker image already pulled and these model bundles already in the host model
   * cache, so a new instance skips the image pull and the model fetch. Rebuilt by the deploy whenever the image
   * digest or the list changes. Costs the AMI's snapshot storage at idle (docs/deploy.md, "Cold start options").
   */
  bakedAmi?: { models: string[] };
  /**
   * On unless false. GPU utilization, memory, temperature and power of every instance in CloudWatch
   * (GPU_METRICS), through the CloudWatch agent installed at boot. Billed as custom metrics per instance.
   */
  gpuMetrics?: boolean;
}

export interface GpuWorkerArgs extends GpuCapacity {
  vpcId: pulumi.Input<string>;
  subnetIds: pulumi.Input<pulumi.Input<string>[]>;
  /** Public subnets without a NAT gateway need a public IP to reach S3, SQS, DynamoDB and ECR. */
  assignPublicIp: boolean;
  /** Container image, pinned by digest: `<repository>@sha256:<hex>` (stacks/workerImageRef.ts). */
  image: pulumi.Input<string>;
  /** The jobs queue the service scales on. */
  queueName: pulumi.Input<string>;
  /** Exactly what the task role may do (WORKER_GRANTS in access.ts). */
  access: Grant[];
  environment: Record<string, pulumi.Input<string>>;
  logRetentionDays: number;
  /** Soft memory limit for the container (MiB); g5/g6.xlarge have 16 GiB. */
  memoryReservationMiB?: number;
  amiParameter?: string;
  /** The stage bucket, whose `models/<id>/` prefixes a baked AMI (`bakedAmi`) copies; required with it. */
  modelBucket?: { name: pulumi.Input<string>; arn: pulumi.Input<string> };
}

/**
 * The GPU worker fleet (SST has no GPU compute): an ECS cluster whose capacity is an auto scaling group of
 * GPU instances (spot/on-demand mix) behind a capacity provider with managed scaling, and a service running
 * one GPU task per instance whose desired count follows the jobs backlog and may be zero.
 *
 * Start from zero: a job arrives -> backlog alarm sets desired count 1 -> the task is PROVISIONING ->
 * managed scaling raises the group -> an instance joins and the task starts (a few minutes, mostly AMI boot
 * and image pull). Back to zero: queue empty for idleMinutes -> desired 0 -> managed scaling (and
 * termination protection, which keeps instances with tasks) retires the empty instances.
 */
export class GpuWorker extends pulumi.ComponentResource {
  readonly cluster: aws.ecs.Cluster;
  readonly autoScalingGroup: aws.autoscaling.Group;
  readonly capacityProvider: aws.ecs.CapacityProvider;
  /** The on-demand group with the warm pool and its capacity provider, when `warmPool` is set. */
  readonly warm?: { autoScalingGroup: aws.autoscaling.Group; capacityProvider: aws.ecs.CapacityProvider };
  readonly capacityProviders: aws.ecs.ClusterCapacityProviders;
  readonly taskDefinition: aws.ecs.TaskDefinition;
  readonly service: aws.ecs.Service;
  readonly taskRole: aws.iam.Role;
  readonly scaling: BacklogScaling;
  /** The AMI every instance launches from, when `bakedAmi` is set. */
  readonly ami?: WorkerAmi;
  /** Raise and lower the service's minimum, when `scheduledMinimum` is set. */
  readonly scheduledActions: aws.appautoscaling.ScheduledAction[] = [];

  constructor(name: string, args: GpuWorkerArgs, opts?: pulumi.ComponentResourceOptions) {
    super('obelm:worker:GpuWorker', name, {}, opts);
    validate(name, args);
    const parent = { parent: this };

    this.cluster = new aws.ecs.Cluster(
      `${name}Cluster`,
      // Per-task CPU, memory, network and storage metrics (ECS/ContainerInsights); GPU use comes from the agent (GPU_METRICS).
      { settings: [{ name: 'containerInsights', value: 'enabled' }] },
      parent,
    );

    // --- instances ---------------------------------------------------------------------------------
    const instanceRole = new aws.iam.Role(
      `${name}InstanceRole`,
      { assumeRolePolicy: assumedBy('ec2.amazonaws.com') },
      parent,
    );
    for (const [id, policy] of [
      ['Ecs', 'arn:aws:iam::aws:policy/service-role/AmazonEC2ContainerServiceforEC2Role'],
      // Shell access through Session Manager for debugging, without SSH keys or open ports.
      ['Ssm', 'arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore'],
    ] as const) {
      new aws.iam.RolePolicyAttachment(
        `${name}Instance${id}`,
        { role: instanceRole.name, policyArn: policy },
        parent,
      );
    }
    const gpuMetrics = args.gpuMetrics !== false;
    if (gpuMetrics) {
      // The CloudWatch agent runs on the host with the instance role; it may write this namespace only.
      new aws.iam.RolePolicy(
        `${name}InstanceGpuMetrics`,
        {
          role: instanceRole.id,
          policy: policyDocument([
            {
              actions: ['cloudwatch:PutMetricData'],
              resources: ['*'],
              conditions: [
                { test: 'StringEquals', variable: 'cloudwatch:namespace', values: [GPU_METRICS.namespace] },
              ],
            },
          ]),
        },
        parent,
      );
    }
    const instanceProfile = new aws.iam.InstanceProfile(
      `${name}InstanceProfile`,
      { role: instanceRole.name },
      parent,
    );
    // No inbound traffic at all: the worker only polls SQS and calls AWS APIs.
    const securityGroup = new aws.ec2.SecurityGroup(
      `${name}Instances`,
      {
        vpcId: args.vpcId,
        description: 'obelm GPU workers: egress only',
        egress: [
          { protocol: '-1', fromPort: 0, toPort: 0, cidrBlocks: ['0.0.0.0/0'], ipv6CidrBlocks: ['::/0'] },
        ],
      },
      parent,
    );

    const amiParameter = args.amiParameter ?? ECS_GPU_AMI_PARAMETER;
    if (args.bakedAmi && args.modelBucket) {
      this.ami = new WorkerAmi(
        `${name}Ami`,
        {
          image: args.image,
          models: args.bakedAmi.models,
          bucket: args.modelBucket,
          cacheDir: MODEL_CACHE.hostPath,
          cacheOwner: MODEL_CACHE.owner,
          parentAmiParameter: amiParameter,
          rootVolumeGiB: args.rootVolumeGiB,
          subnetId: pulumi.output(args.subnetIds).apply((ids) => {
            if (!ids[0]) throw new InfraConfigError('no_subnets', `${name}: no subnet to build the AMI in`);
            return ids[0];
          }),
          securityGroupId: securityGroup.id,
        },
        parent,
      );
    }
    // The stock ECS GPU AMI is resolved by EC2 at each launch; a baked one is a fixed id, replaced by a deploy.
    const imageId = this.ami ? this.ami.imageId : `resolve:ssm:${amiParameter}`;

    const newLaunchTemplate = (id: string, extra: { instanceType?: string; warmPool?: boolean }) =>
      new aws.ec2.LaunchTemplate(
        `${name}${id}`,
        {
          instanceType: extra.instanceType,
          imageId,
          iamInstanceProfile: { arn: instanceProfile.arn },
          networkInterfaces: [
            { associatePublicIpAddress: String(args.assignPublicIp), securityGroups: [securityGroup.id] },
          ],
          userData: this.cluster.name.apply((cluster) =>
            Buffer.from(userData(cluster, { warmPool: extra.warmPool, gpuMetrics })).toString('base64'),
          ),
          blockDeviceMappings: [rootVolume(args.rootVolumeGiB)],
          // IMDSv2 only, hop limit 1: a bridge-mode container is one hop further, so it cannot get a token and
          // cannot borrow the instance role. The ECS agent uses host networking; tasks get their role from the
          // agent's credentials endpoint (169.254.170.2, AWS_CONTAINER_CREDENTIALS_RELATIVE_URI), not from IMDS;
          // the region comes from AWS_REGION in the task environment.
          metadataOptions: { httpTokens: 'required', httpPutResponseHopLimit: 1, httpEndpoint: 'enabled' },
          updateDefaultVersion: true,
        },
        parent,
      );
    const launchTemplate = newLaunchTemplate('LaunchTemplate', {});
    // Every template that launches `imageId`: a baked AMI's lifecycle policy waits for them all.
    const launchTemplates = [launchTemplate];

    this.autoScalingGroup = new aws.autoscaling.Group(
      `${name}Instances`,
      {
        vpcZoneIdentifiers: args.subnetIds,
        minSize: 0,
        // Room for a deploy's overlap (DEPLOYMENT_MAXIMUM_PERCENT); the service itself stays <= maxWorkers.
        maxSize: Math.ceil((args.maxWorkers * DEPLOYMENT_MAXIMUM_PERCENT) / 100),
        // Managed termination protection needs new instances protected; ECS lifts it when they are empty.
        protectFromScaleIn: true,
        // Replace spot instances at a rebalance recommendation, before the 2-minute notice when possible.
        capacityRebalance: true,
        mixedInstancesPolicy: {
          launchTemplate: {
            launchTemplateSpecification: { launchTemplateId: launchTemplate.id, version: '$Latest' },
            overrides: args.instanceTypes.map((instanceType) => ({ instanceType })),
          },
          instancesDistribution: {
            onDemandAllocationStrategy: 'prioritized',
            onDemandBaseCapacity: args.onDemandBase,
            onDemandPercentageAboveBaseCapacity: args.onDemandPercentAboveBase,
            spotAllocationStrategy: 'price-capacity-optimized',
          },
        },
        // ECS tags the group it manages; declaring the tag keeps deploys from fighting over it.
        tags: [{ key: 'AmazonECSManaged', value: 'true', propagateAtLaunch: true }],
      },
      // The capacity provider owns the desired capacity from here on.
      { ...parent, ignoreChanges: ['desiredCapacity'] },
    );

    const newCapacityProvider = (id: string, group: aws.autoscaling.Group, maxWorkers: number) =>
      new aws.ecs.CapacityProvider(
        `${name}${id}`,
        {
          autoScalingGroupProvider: {
            autoScalingGroupArn: group.arn,
            managedTerminationProtection: 'ENABLED',
            managedDraining: 'ENABLED',
            managedScaling: {
              status: 'ENABLED',
              // 100 %: no idle spare instance; one task per instance since each task takes the only GPU.
              targetCapacity: 100,
              minimumScalingStepSize: 1,
              maximumScalingStepSize: Math.min(maxWorkers, 10),
              instanceWarmupPeriod: 300,
            },
          },
        },
        parent,
      );
    this.capacityProvider = newCapacityProvider('Capacity', this.autoScalingGroup, args.maxWorkers);
    // The capacity provider strategy: with a warm pool, the first `size` tasks go to the warm group (base,
    // weight 0), everything beyond to the mixed group.
    const strategy: aws.types.input.ecs.ServiceCapacityProviderStrategy[] = [
      { capacityProvider: this.capacityProvider.name, weight: 1, base: 0 },
    ];
    if (args.warmPool) {
      const { size } = args.warmPool;
      const warmLaunchTemplate = newLaunchTemplate('WarmLaunchTemplate', {
        instanceType: args.instanceTypes[0],
        warmPool: true,
      });
      launchTemplates.push(warmLaunchTemplate);
      const warmGroup = new aws.autoscaling.Group(
        `${name}WarmInstances`,
        {
          vpcZoneIdentifiers: args.subnetIds,
          minSize: 0,
          maxSize: Math.ceil((size * DEPLOYMENT_MAXIMUM_PERCENT) / 100),
          protectFromScaleIn: true,
          // On demand, one type: the only kind of group EC2 Auto Scaling gives a warm pool.
          launchTemplate: { id: warmLaunchTemplate.id, version: '$Latest' },
          // Booted once (AMI, user data), then stopped: a scale-out starts a stopped instance instead of
          // launching a new one. ECS refuses reuseOnScaleIn, so instances that served go back by termination
          // and the pool refills with fresh ones.
          warmPool: { poolState: 'Stopped', minSize: size, maxGroupPreparedCapacity: size },
          tags: [{ key: 'AmazonECSManaged', value: 'true', propagateAtLaunch: true }],
        },
        { ...parent, ignoreChanges: ['desiredCapacity'] },
      );
      this.warm = {
        autoScalingGroup: warmGroup,
        capacityProvider: newCapacityProvider('WarmCapacity', warmGroup, size),
      };
      strategy.unshift({ capacityProvider: this.warm.capacityProvider.name, weight: 0, base: size });
    }
    this.ami?.retireSuperseded(launchTemplates);
    this.capacityProviders = new aws.ecs.ClusterCapacityProviders(
      `${name}CapacityProviders`,
      {
        clusterName: this.cluster.name,
        capacityProviders: strategy.map((s) => s.capacityProvider),
        defaultCapacityProviderStrategies: strategy,
      },
      parent,
    );

    // --- task ---------------------------------------------------------------------------------------
    const logGroup = new aws.cloudwatch.LogGroup(
      `${name}Logs`,
      { retentionInDays: args.logRetentionDays },
      parent,
    );
    const executionRole = new aws.iam.Role(
      `${name}ExecutionRole`,
      { assumeRolePolicy: assumedBy('ecs-tasks.amazonaws.com') },
      parent,
    );
    // Pull the image from ECR and write logs; nothing else.
    new aws.iam.RolePolicyAttachment(
      `${name}ExecutionPolicy`,
      {
        role: executionRole.name,
        policyArn: 'arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy',
      },
      parent,
    );
    this.taskRole = new aws.iam.Role(
      `${name}TaskRole`,
      { assumeRolePolicy: assumedBy('ecs-tasks.amazonaws.com') },
      parent,
    );
    new aws.iam.RolePolicy(
      `${name}TaskAccess`,
      { role: this.taskRole.id, policy: policyDocument(args.access) },
      parent,
    );
    // Task scale-in protection: the worker marks itself protected while it holds a job
    // (PUT $ECS_AGENT_URI/task-protection/v1/state), so scale-in stops idle tasks first.
    new aws.iam.RolePolicy(
      `${name}TaskProtection`,
      {
        role: this.taskRole.id,
        policy: policyDocument([
          {
            actions: ['ecs:GetTaskProtection', 'ecs:UpdateTaskProtection'],
            resources: [pulumi.interpolate`${this.cluster.arn.apply(taskArnPrefix)}/*`],
          },
        ]),
      },
      parent,
    );

    const region = aws.getRegionOutput({}, parent).region;
    this.taskDefinition = new aws.ecs.TaskDefinition(
      `${name}Task`,
      {
        family: pulumi.interpolate`${this.cluster.name}-worker`,
        requiresCompatibilities: ['EC2'],
        networkMode: 'bridge',
        executionRoleArn: executionRole.arn,
        taskRoleArn: this.taskRole.arn,
        volumes: [{ name: 'model-cache', hostPath: MODEL_CACHE.hostPath }],
        containerDefinitions: pulumi.jsonStringify([
          {
            name: 'worker',
            image: args.image,
            essential: true,
            memoryReservation: args.memoryReservationMiB ?? 12 * 1024,
            // The task needs a whole GPU: ECS places it only on an instance with a free one.
            resourceRequirements: [{ type: 'GPU', value: '1' }],
            stopTimeout: STOP_TIMEOUT_SECONDS,
            healthCheck: HEALTH_CHECK,
            // tini as PID 1 forwards SIGTERM to node and reaps children.
            linuxParameters: { initProcessEnabled: true },
            mountPoints: [
              { sourceVolume: 'model-cache', containerPath: MODEL_CACHE.containerPath, readOnly: false },
            ],
            // AWS_REGION: the SDK would otherwise ask IMDS, which hop limit 1 keeps from containers.
            environment: pulumi.all([args.environment, region]).apply(([env, awsRegion]) =>
              Object.entries({ ...env, AWS_REGION: awsRegion }).map(([envName, value]) => ({
                name: envName,
                value,
              })),
            ),
            logConfiguration: {
              logDriver: 'awslogs',
              options: {
                'awslogs-group': logGroup.name,
                'awslogs-region': region,
                'awslogs-stream-prefix': 'worker',
              },
            },
          },
        ]),
      },
      parent,
    );

    this.service = new aws.ecs.Service(
      `${name}Service`,
      {
        cluster: this.cluster.arn,
        taskDefinition: this.taskDefinition.arn,
        desiredCount: args.minWorkers,
        capacityProviderStrategies: strategy,
        // 0: ECS may stop a task without waiting for its replacement. On a spot interruption notice the task
        // must get SIGTERM at once (a replacement is a new GPU instance, minutes away, past the 2-minute
        // window). Deploys stop idle tasks at once; a task holding a job is kept by task scale-in protection
        // until the job ends. New tasks start beside them, up to DEPLOYMENT_MAXIMUM_PERCENT.
        deploymentMinimumHealthyPercent: 0,
        deploymentMaximumPercent: DEPLOYMENT_MAXIMUM_PERCENT,
        deploymentCircuitBreaker: { enable: true, rollback: true },
        // Fill instances before starting new ones (with one GPU per instance this mostly matters for g*.12xlarge).
        orderedPlacementStrategies: [{ type: 'binpack', field: 'memory' }],
        enableEcsManagedTags: true,
        propagateTags: 'SERVICE',
      },
      // The backlog scaling owns the desired count once deployed. The capacity provider must be associated
      // with the cluster before a service can use it in its strategy.
      { ...parent, ignoreChanges: ['desiredCount'], dependsOn: [this.capacityProviders] },
    );

    this.scaling = new BacklogScaling(
      `${name}Scaling`,
      {
        clusterName: this.cluster.name,
        serviceName: this.service.name,
        queueName: args.queueName,
        minTasks: args.minWorkers,
        maxTasks: args.maxWorkers,
        jobsPerTask: args.jobsPerWorker,
      },
      parent,
    );
    if (args.scheduledMinimum) {
      const { minWorkers, start, end, timezone } = args.scheduledMinimum;
      const target = this.scaling.target;
      for (const [id, schedule, min] of [
        ['WarmStart', start, minWorkers],
        ['WarmEnd', end, args.minWorkers],
      ] as const) {
        this.scheduledActions.push(
          new aws.appautoscaling.ScheduledAction(
            `${name}${id}`,
            {
              serviceNamespace: target.serviceNamespace,
              scalableDimension: target.scalableDimension,
              resourceId: target.resourceId,
              schedule,
              timezone,
              // The backlog policies keep working inside the window; they cannot go below this minimum.
              scalableTargetAction: { minCapacity: min, maxCapacity: args.maxWorkers },
            },
            parent,
          ),
        );
      }
    }
    this.registerOutputs({ clusterName: this.cluster.name, serviceName: this.service.name });
  }
}

/**
 * Instance boot script: join the cluster, let ECS drain the instance on a spot interruption notice (its
 * tasks get SIGTERM immediately, within the 2-minute window), prepare the model cache folder that
 * outlives tasks (owned by the image's non-root user, uid 10001) and, with `gpuMetrics`, start the
 * CloudWatch agent.
 */
export function userData(
  clusterName: string,
  opts: { warmPool?: boolean; gpuMetrics?: boolean } = {},
): string {
  return [
    '#!/bin/bash',
    'set -euo pipefail',
    'cat >> /etc/ecs/ecs.config <<EOF',
    `ECS_CLUSTER=${clusterName}`,
    'ECS_ENABLE_GPU_SUPPORT=true',
    'ECS_ENABLE_SPOT_INSTANCE_DRAINING=true',
    `ECS_CONTAINER_STOP_TIMEOUT=${STOP_TIMEOUT_SECONDS}s`,
    // The worker image is large: keep it once pulled.
    'ECS_IMAGE_PULL_BEHAVIOR=prefer-cached',
    // A warm pool instance boots once to be stopped: the agent must not register it with the cluster (where
    // ECS would place tasks on it) until it leaves the pool (ECS agent >= 1.59).
    ...(opts.warmPool ? ['ECS_WARM_POOLS_CHECK=true'] : []),
    'EOF',
    `mkdir -p ${MODEL_CACHE.hostPath}`,
    `chown ${MODEL_CACHE.owner}:${MODEL_CACHE.owner} ${MODEL_CACHE.hostPath}`,
    ...(opts.gpuMetrics ? gpuMetricsAgent() : []),
    '',
  ].join('\n');
}

/**
 * Install and start the CloudWatch agent with the `nvidia_gpu` metrics (GPU_METRICS). Last in the script and
 * allowed to fail: the ECS config above is already written, and a worker without metrics beats no worker.
 * `-s` enables the agent's service, so a warm-pool instance that is stopped and started again keeps reporting.
 */
function gpuMetricsAgent(): string[] {
  const config = {
    agent: { metrics_collection_interval: GPU_METRICS.intervalSeconds, run_as_user: 'root' },
    metrics: {
      namespace: GPU_METRICS.namespace,
      // Resolved by the agent from the instance metadata (a host process: hop limit 1 does not apply).
      append_dimensions: {
        // biome-ignore lint/suspicious/noTemplateCurlyInString: the agent's placeholder, not a template
        InstanceId: '${aws:InstanceId}',
        // biome-ignore lint/suspicious/noTemplateCurlyInString: the agent's placeholder, not a template
        AutoScalingGroupName: '${aws:AutoScalingGroupName}',
      },
      metrics_collected: { nvidia_gpu: { measurement: GPU_METRICS.measurements } },
    },
  };
  return [
    // Quoted heredoc: the shell leaves the agent's ${aws:...} placeholders alone.
    `mkdir -p ${dirname(GPU_METRICS.configPath)}`,
    `cat > ${GPU_METRICS.configPath} <<'JSON'`,
    JSON.stringify(config),
    'JSON',
    // One && chain: errexit does not apply inside a || list, so each step must gate the next.
    'dnf install -y amazon-cloudwatch-agent \\',
    `  && /opt/aws/amazon-cloudwatch-agent/bin/amazon-cloudwatch-agent-ctl -a fetch-config -m ec2 -s -c file:${GPU_METRICS.configPath} \\`,
    "  || echo 'obelm: CloudWatch agent not started, no GPU metrics on this instance' >&2",
  ];
}

/** arn:aws:ecs:r:a:cluster/name -> arn:aws:ecs:r:a:task/name (the ARNs of that cluster's tasks). */
function taskArnPrefix(clusterArn: string): string {
  return clusterArn.replace(':cluster/', ':task/');
}

function validate(name: string, args: GpuWorkerArgs): void {
  const fail = (code: string, message: string) => {
    throw new InfraConfigError(code, `${name}: ${message}`);
  };
  if (args.instanceTypes.length === 0) fail('no_instance_types', 'instanceTypes is empty');
  for (const type of args.instanceTypes) {
    // Every family the task could land on must have an NVIDIA GPU the ECS GPU AMI drives.
    if (!/^(g4dn|g5|g6|g6e|gr6|p3|p4d|p4de|p5|p5e)\./.test(type)) {
      fail('not_a_gpu_instance', `instance type ${type} has no NVIDIA GPU`);
    }
  }
  if (args.minWorkers < 0 || args.maxWorkers < Math.max(1, args.minWorkers)) {
    fail('bad_worker_range', `need 0 <= minWorkers <= maxWorkers and maxWorkers >= 1`);
  }
  if (args.onDemandPercentAboveBase < 0 || args.onDemandPercentAboveBase > 100) {
    fail('bad_on_demand_percent', 'onDemandPercentAboveBase must be within 0..100');
  }
  const warm = args.warmPool?.size;
  if (warm !== undefined && (!Number.isInteger(warm) || warm < 1 || warm > args.maxWorkers)) {
    fail('bad_warm_pool', 'warmPool.size must be an integer within 1..maxWorkers');
  }
  if (args.bakedAmi && !args.modelBucket) {
    fail('baked_ami_without_bucket', 'bakedAmi needs modelBucket, the bucket its model bundles come from');
  }
  // Known now on a real deploy (a string): fail before any resource, not inside the build's document.
  if (args.bakedAmi && typeof args.image === 'string') ecrRepositoryOf(args.image);
  const scheduled = args.scheduledMinimum;
  if (scheduled) {
    const { minWorkers, start, end } = scheduled;
    if (!Number.isInteger(minWorkers) || minWorkers < 1 || minWorkers > args.maxWorkers) {
      fail('bad_scheduled_minimum', 'scheduledMinimum.minWorkers must be an integer within 1..maxWorkers');
    }
    if (![start, end].every((cron) => /^cron\(.+\)$/.test(cron))) {
      fail('bad_scheduled_minimum', 'scheduledMinimum.start and end must be cron(...) expressions');
    }
  }
}
