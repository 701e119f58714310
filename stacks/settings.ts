/**
 * Per-stage settings: the only place in the infrastructure that branches on the stage name.
 * Everything under infra/ receives these values as arguments and never looks at the stage itself.
 */
import {
  DEFAULT_PRICE_TABLE,
  IdSchema,
  type PriceTable,
  PriceTableSchema,
  type TenantLimitsOverride,
  TenantLimitsOverrideSchema,
} from '@obelm/core';
import { InfraConfigError } from '../infra/errors.ts';
import type { GpuCapacity } from '../infra/gpuWorker.ts';

export interface StageSettings {
  stage: string;
  /** Keep data (bucket, table) when the stage is removed, and protect it from accidental deletes. */
  protect: boolean;
  /** The GPU worker fleet's capacity plan (its fields are documented in infra/gpuWorker.ts). */
  gpu: GpuCapacity;
  /** Days a job's outputs (jobs/, batch-out/) stay in S3 before the lifecycle rule deletes them. */
  outputRetentionDays: number;
  /** Days CloudWatch keeps Lambda and worker logs. */
  logRetentionDays: number;
  /**
   * Browser origins the bucket's CORS rule (core BUCKET_CORS) allows to upload with a presigned POST and read
   * outputs; the playground's origin is added when it is deployed. The API itself allows any origin (core API_CORS).
   */
  corsOrigins: string[];
  /** Deploy the playground (packages/playground) as a static site on its own CloudFront origin. */
  playground: boolean;
  /** Email that receives alarm notifications; none = alarms only show in the console. */
  alarmEmail?: string;
  /** A job still in flight after this long raises the stuck-job alarm. */
  maxJobSeconds: number;
  limits: {
    /** Largest upload a presigned POST accepts. */
    uploadMaxBytes: number;
    /** Seconds a queued job may wait before it expires. */
    jobTtlSeconds: number;
    /** Lifetime of presigned URLs the API hands out. */
    presignSeconds: number;
    /**
     * Requests per second the HTTP API accepts before throttling, all tenants together (burst is twice this):
     * a guard of the whole stage. Each API key has its own limit below (`tenantLimits.requestsPerSecond`).
     */
    apiRateLimit: number;
  };
  /**
   * The stage's default tenant limits (core tenants.ts), over core's DEFAULT_TENANT_LIMITS; a tenant's own
   * (`obelm admin set-limits`) override these. OBELM_TENANT_LIMITS of the API and the worker.
   */
  tenantLimits: TenantLimitsOverride;
  /** Prices per model, in integer micro-units of a currency (core billing.ts). OBELM_PRICES. */
  prices: PriceTable;
  /**
   * Worker process settings, passed to the container as environment variables. The heartbeat and the
   * attempts per job are not here: the queues are derived from them, the same on every stage and locally
   * (packages/core/src/queues.ts).
   */
  worker: { defaultModelBundle: string };
}

const baseGpu: GpuCapacity = {
  // One family, so one GPU model: exactness is a property of the hardware (docs/math.md §10). A noise artifact
  // made on an A10G and reused on an L4 round-trips to about 1e-6 instead of 1e-13, because eps differs in the
  // last bits. g6 (L4, 24 GB) is cheaper per image than g5 (A10G, 24 GB) for SD 1.5 fp16; both sizes carry one
  // L4. A stage may still list a g5/g6 mix for spot capacity, at that cost (jobs then report hardwareMatch).
  instanceTypes: ['g6.xlarge', 'g6.2xlarge'],
  minWorkers: 0,
  maxWorkers: 2,
  jobsPerWorker: 4,
  onDemandBase: 0,
  onDemandPercentAboveBase: 0,
  rootVolumeGiB: 100,
  // GPU utilization and memory in CloudWatch (obelm/gpu); false turns the agent off (cost: docs/deploy.md).
  gpuMetrics: true,
  // No warmPool, no scheduledMinimum, no bakedAmi: zero GPU cost at idle. A stage may turn any on (their idle
  // costs are in docs/deploy.md, "Cold start options").
};

const base: Omit<StageSettings, 'stage'> = {
  protect: false,
  gpu: baseGpu,
  outputRetentionDays: 30,
  logRetentionDays: 14,
  corsOrigins: ['http://localhost:3000'],
  playground: true,
  maxJobSeconds: 30 * 60,
  limits: {
    uploadMaxBytes: 20 * 1024 * 1024,
    jobTtlSeconds: 24 * 3600,
    presignSeconds: 3600,
    apiRateLimit: 20,
  },
  tenantLimits: {},
  // 0.05 US cents per GPU second, 0.1 cents per succeeded job.
  prices: DEFAULT_PRICE_TABLE,
  worker: { defaultModelBundle: 'sd15' },
};

/** Overrides of the base settings, per named stage; any other stage name (personal stages) gets the base. */
const overrides: Record<string, (s: Omit<StageSettings, 'stage'>) => Omit<StageSettings, 'stage'>> = {
  production: (s) => ({
    ...s,
    protect: true,
    // A quarter of the instances on demand keeps some capacity through a spot shortage.
    gpu: { ...s.gpu, maxWorkers: 16, onDemandBase: 0, onDemandPercentAboveBase: 25 },
    logRetentionDays: 90,
    corsOrigins: ['https://app.obelm.dev'],
    limits: { ...s.limits, apiRateLimit: 200 },
  }),
  staging: (s) => ({ ...s, gpu: { ...s.gpu, maxWorkers: 4 }, outputRetentionDays: 7 }),
};

/** Settings for `stage`, validated: a bad value fails the deploy before any resource is touched. */
export function settingsFor(stage: string): StageSettings {
  const pick = overrides[stage] ?? ((s) => s);
  const settings: StageSettings = { stage, ...pick(base) };
  validateSettings(settings);
  return settings;
}

/** Throws InfraConfigError on the first bad value (exported for the tests of each rule). */
export function validateSettings(s: StageSettings): void {
  const { gpu } = s;
  const fail = (code: string, message: string) => {
    throw new InfraConfigError(code, `stage ${s.stage}: ${message}`);
  };
  if (gpu.instanceTypes.length === 0) fail('no_instance_types', 'gpu.instanceTypes is empty');
  if (!Number.isInteger(gpu.minWorkers) || gpu.minWorkers < 0) fail('bad_min_workers', 'gpu.minWorkers < 0');
  if (gpu.maxWorkers < Math.max(1, gpu.minWorkers)) {
    fail('bad_max_workers', 'gpu.maxWorkers must be >= max(1, minWorkers)');
  }
  if (gpu.jobsPerWorker < 1) fail('bad_jobs_per_worker', 'gpu.jobsPerWorker must be >= 1');
  if (gpu.onDemandPercentAboveBase < 0 || gpu.onDemandPercentAboveBase > 100) {
    fail('bad_on_demand_percent', 'gpu.onDemandPercentAboveBase must be within 0..100');
  }
  if (gpu.bakedAmi) {
    const { models } = gpu.bakedAmi;
    const bad = models.filter((id) => !IdSchema.safeParse(id).success);
    if (bad.length > 0) fail('bad_baked_ami', `gpu.bakedAmi.models: not model ids: ${bad.join(', ')}`);
    if (new Set(models).size !== models.length)
      fail('bad_baked_ami', 'gpu.bakedAmi.models lists a model twice');
  }
  if (s.outputRetentionDays < 1) fail('bad_retention', 'outputRetentionDays must be >= 1');
  // Checked with the schemas the API and the worker load them with (core config.ts).
  const checks = [
    ['bad_tenant_limits', 'tenantLimits', TenantLimitsOverrideSchema.safeParse(s.tenantLimits)],
    ['bad_prices', 'prices', PriceTableSchema.safeParse(s.prices)],
  ] as const;
  for (const [code, what, result] of checks) {
    if (result.error)
      fail(code, `${what}: ${result.error.issues.map((i) => `${i.path.join('.')} ${i.message}`).join('; ')}`);
  }
}
