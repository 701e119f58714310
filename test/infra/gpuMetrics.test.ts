/** GPU metrics: the CloudWatch agent in both groups' boot scripts, its namespace-only grant, and the stage switch. */
import { beforeAll, describe, expect, it } from 'vitest';
import { GPU_METRICS } from '../../infra/gpuWorker.ts';
import { settingsFor } from '../../stacks/settings.ts';
import { baseGpuWorkerArgs } from './gpuWorkerArgs.ts';
import { ofType, type Recorded, recordResources, resolved, settle } from './pulumiMocks.ts';

let recorded: Recorded[];
const common = { ...baseGpuWorkerArgs, warmPool: { size: 1 } };

beforeAll(async () => {
  recorded = await recordResources();
  const { GpuWorker } = await import('../../infra/gpuWorker.ts');
  new GpuWorker('On', { ...common, ...settingsFor('staging').gpu });
  new GpuWorker('Off', { ...common, ...settingsFor('staging').gpu, gpuMetrics: false });
  await settle();
});

const named = (type: string, prefix: string) =>
  ofType(recorded, type).filter((r) => r.name.startsWith(prefix));
const userDataOf = async (prefix: string) =>
  Promise.all(
    named('aws:ec2/launchTemplate:LaunchTemplate', prefix).map(async (r) =>
      Buffer.from(await resolved(r.inputs.userData as string), 'base64').toString(),
    ),
  );
const agentConfig = (script: string) => {
  const match = /<<'JSON'\n(.*)\nJSON\n/.exec(script);
  return match ? JSON.parse(match[1]!) : undefined;
};

describe('GPU metrics', () => {
  it('are on for every stage unless turned off', () => {
    for (const stage of ['production', 'staging', 'alice'])
      expect(settingsFor(stage).gpu.gpuMetrics).toBe(true);
  });

  it('install and start the CloudWatch agent with nvidia_gpu in both launch templates', async () => {
    const scripts = await userDataOf('On');
    expect(scripts).toHaveLength(2);
    for (const script of scripts) {
      expect(script).toContain('dnf install -y amazon-cloudwatch-agent');
      expect(script).toContain(
        `amazon-cloudwatch-agent-ctl -a fetch-config -m ec2 -s -c file:${GPU_METRICS.configPath}`,
      );
      // The ECS config stays first and intact.
      expect(script.indexOf('ECS_CLUSTER=')).toBeLessThan(script.indexOf('amazon-cloudwatch-agent'));
      const config = agentConfig(script);
      expect(config.metrics.namespace).toBe('obelm/gpu');
      expect(config.agent.metrics_collection_interval).toBe(60);
      expect(config.metrics.metrics_collected.nvidia_gpu.measurement).toEqual([
        'utilization_gpu',
        'utilization_memory',
        'memory_used',
        'memory_total',
        'temperature_gpu',
        'power_draw',
      ]);
      expect(config.metrics.append_dimensions).toEqual({
        // biome-ignore lint/suspicious/noTemplateCurlyInString: the agent's placeholder
        InstanceId: '${aws:InstanceId}',
        // biome-ignore lint/suspicious/noTemplateCurlyInString: the agent's placeholder
        AutoScalingGroupName: '${aws:AutoScalingGroupName}',
      });
    }
    // The warm group keeps its own flag beside the agent.
    expect(scripts.filter((s) => s.includes('ECS_WARM_POOLS_CHECK=true'))).toHaveLength(1);
  });

  it('let the instance role put metrics in that namespace only', async () => {
    const [policy] = named('aws:iam/rolePolicy:RolePolicy', 'OnInstanceGpuMetrics');
    const doc = JSON.parse(await resolved(policy!.inputs.policy as string));
    expect(doc.Statement).toEqual([
      {
        Effect: 'Allow',
        Action: ['cloudwatch:PutMetricData'],
        Resource: ['*'],
        Condition: { StringEquals: { 'cloudwatch:namespace': ['obelm/gpu'] } },
      },
    ]);
  });

  it('leave no agent and no grant when turned off', async () => {
    const scripts = await userDataOf('Off');
    expect(scripts).toHaveLength(2);
    for (const script of scripts) {
      expect(script).not.toContain('amazon-cloudwatch-agent');
      expect(script).toContain('ECS_CLUSTER=');
    }
    expect(named('aws:iam/rolePolicy:RolePolicy', 'OffInstanceGpuMetrics')).toEqual([]);
  });
});
