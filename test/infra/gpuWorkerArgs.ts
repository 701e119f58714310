import type { GpuWorkerArgs } from '../../infra/gpuWorker.ts';

/** A worker image pinned by digest, as a deploy passes it (stacks/workerImageRef.ts). */
export const TEST_WORKER_IMAGE = `123456789012.dkr.ecr.us-east-1.amazonaws.com/obelm-worker@sha256:${'cd'.repeat(32)}`;

/**
 * The GpuWorker arguments the infra tests share: one VPC and subnet, the pinned image, no grants and no
 * environment. A test spreads them with a stage's `gpu` settings and the options it is about.
 */
export const baseGpuWorkerArgs = {
  vpcId: 'vpc-1',
  subnetIds: ['subnet-a'],
  assignPublicIp: true,
  image: TEST_WORKER_IMAGE,
  queueName: 'jobs',
  access: [],
  environment: {},
  logRetentionDays: 14,
} satisfies Partial<GpuWorkerArgs>;
