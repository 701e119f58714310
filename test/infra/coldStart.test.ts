/** The cold-start options of the GPU fleet: absent unless a stage turns them on, and wired as ECS needs. */
import { beforeAll, describe, expect, it } from 'vitest';
import { settingsFor } from '../../stacks/settings.ts';
import { baseGpuWorkerArgs as common } from './gpuWorkerArgs.ts';
import { ofType, one, type Recorded, recordResources, resolved, settle } from './pulumiMocks.ts';

let recorded: Recorded[];
const scheduledMinimum = {
  minWorkers: 2,
  start: 'cron(0 8 ? * MON-FRI *)',
  end: 'cron(0 19 ? * MON-FRI *)',
  timezone: 'Europe/Paris',
};

beforeAll(async () => {
  recorded = await recordResources();
  const { GpuWorker } = await import('../../infra/gpuWorker.ts');
  new GpuWorker('Plain', { ...common, ...settingsFor('production').gpu });
  new GpuWorker('Warm', {
    ...common,
    ...settingsFor('staging').gpu,
    warmPool: { size: 1 },
    scheduledMinimum,
  });
  await settle();
});

const named = (type: string, prefix: string) =>
  ofType(recorded, type).filter((r) => r.name.startsWith(prefix));
const userDataOf = async (r: Recorded) =>
  Buffer.from(await resolved(r.inputs.userData as string), 'base64').toString();

describe('by default (every stage)', () => {
  it('no stage turns an option on', () => {
    for (const stage of ['production', 'staging', 'alice']) {
      expect(settingsFor(stage).gpu.warmPool).toBeUndefined();
      expect(settingsFor(stage).gpu.scheduledMinimum).toBeUndefined();
    }
  });

  it('creates one mixed group, no warm pool and no scheduled action', async () => {
    const groups = named('aws:autoscaling/group:Group', 'Plain');
    expect(groups).toHaveLength(1);
    expect(groups[0]!.inputs.warmPool).toBeUndefined();
    expect(named('aws:appautoscaling/scheduledAction:ScheduledAction', 'Plain')).toEqual([]);
    const template = one(recorded, 'aws:ec2/launchTemplate:LaunchTemplate', 'PlainLaunchTemplate');
    expect(await userDataOf(template)).not.toContain('ECS_WARM_POOLS_CHECK');
  });
});

describe('a warm pool of stopped instances', () => {
  it('sits on its own on-demand, single-type group (EC2 refuses it on a mixed or spot group)', () => {
    const group = one(recorded, 'aws:autoscaling/group:Group', 'WarmWarmInstances');
    expect(group.inputs.warmPool).toEqual({ poolState: 'Stopped', minSize: 1, maxGroupPreparedCapacity: 1 });
    expect(group.inputs.mixedInstancesPolicy).toBeUndefined();
    expect(group.inputs.minSize).toBe(0);
    // ECS does not allow instances to return to the pool on scale in.
    expect(group.inputs.warmPool).not.toHaveProperty('instanceReusePolicy');
  });

  it('boots instances that join the cluster only once they leave the pool', async () => {
    const template = one(recorded, 'aws:ec2/launchTemplate:LaunchTemplate', 'WarmWarmLaunchTemplate');
    expect(template.inputs.instanceType).toBe(settingsFor('staging').gpu.instanceTypes[0]);
    expect(await userDataOf(template)).toContain('ECS_WARM_POOLS_CHECK=true');
    const mixed = one(recorded, 'aws:ec2/launchTemplate:LaunchTemplate', 'WarmLaunchTemplate');
    expect(await userDataOf(mixed)).not.toContain('ECS_WARM_POOLS_CHECK');
  });

  it('takes the first tasks; the mixed (spot) group takes the bursts', async () => {
    const service = one(recorded, 'aws:ecs/service:Service', 'WarmService');
    const strategy = (await resolved(service.inputs.capacityProviderStrategies)) as {
      capacityProvider: string;
      weight: number;
      base: number;
    }[];
    expect(strategy.map(({ weight, base }) => ({ weight, base }))).toEqual([
      { weight: 0, base: 1 },
      { weight: 1, base: 0 },
    ]);
    const associated = one(
      recorded,
      'aws:ecs/clusterCapacityProviders:ClusterCapacityProviders',
      'WarmCapacityProviders',
    );
    expect(associated.inputs.capacityProviders).toHaveLength(2);
    expect(service.dependencies).toContain('WarmCapacityProviders');
  });
});

describe('a scheduled minimum of warm workers', () => {
  it('raises the minimum at the start and restores the stage minimum at the end, in the stage timezone', () => {
    const actions = named('aws:appautoscaling/scheduledAction:ScheduledAction', 'Warm');
    const byName = Object.fromEntries(actions.map((a) => [a.name, a.inputs]));
    const max = settingsFor('staging').gpu.maxWorkers;
    expect(byName.WarmWarmStart).toMatchObject({
      schedule: scheduledMinimum.start,
      timezone: 'Europe/Paris',
      serviceNamespace: 'ecs',
      scalableDimension: 'ecs:service:DesiredCount',
      scalableTargetAction: { minCapacity: 2, maxCapacity: max },
    });
    expect(byName.WarmWarmEnd).toMatchObject({
      schedule: scheduledMinimum.end,
      timezone: 'Europe/Paris',
      scalableTargetAction: { minCapacity: 0, maxCapacity: max },
    });
  });

  it('rejects a window that is not a cron expression or asks for more than the maximum', async () => {
    const { GpuWorker } = await import('../../infra/gpuWorker.ts');
    const args = { ...common, ...settingsFor('staging').gpu };
    expect(
      () => new GpuWorker('Bad', { ...args, scheduledMinimum: { ...scheduledMinimum, start: '0 8 * * *' } }),
    ).toThrow(/cron/);
    expect(() => new GpuWorker('Bad2', { ...args, warmPool: { size: 99 } })).toThrow(/warmPool/);
  });
});
