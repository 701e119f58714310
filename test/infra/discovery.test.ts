import {
  DEFAULT_TENANT_LIMITS,
  PriceTableSchema,
  ServiceConfigSchema,
  stageParameters,
  TenantLimitsSchema,
} from '@obelm/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { settingsFor } from '../../stacks/settings.ts';
import { ofType, type Recorded, recordResources, settle } from './pulumiMocks.ts';

/**
 * The SSM parameters `obelm admin --stage <name>` reads (packages/cli/src/target.ts): the stage's table, its
 * bucket and its default tenant limits, under the names core gives them.
 */

let recorded: Recorded[];
const stageLimits = { ...DEFAULT_TENANT_LIMITS, requestsPerSecond: 50 };

beforeAll(async () => {
  recorded = await recordResources();
  const { StageDiscovery } = await import('../../infra/discovery.ts');
  new StageDiscovery('Discovery', {
    stage: 'alice',
    table: 'obelm-alice-table',
    bucket: 'obelm-alice-bucket',
    tenantLimits: stageLimits,
  });
  await settle();
});

describe('stage discovery parameters', () => {
  it("holds the table's and the bucket's names and the default limits under core's names for the stage", () => {
    const parameters = Object.fromEntries(
      ofType(recorded, 'aws:ssm/parameter:Parameter').map((r) => [r.inputs['name'], r.inputs]),
    );
    const names = stageParameters('alice');
    expect(Object.keys(parameters).sort()).toEqual([names.table, names.bucket, names.tenantLimits].sort());
    expect(names).toEqual({
      table: '/obelm/alice/table',
      bucket: '/obelm/alice/bucket',
      tenantLimits: '/obelm/alice/tenant-limits',
    });
    expect(parameters[names.table]).toMatchObject({ type: 'String', insecureValue: 'obelm-alice-table' });
    expect(parameters[names.bucket]).toMatchObject({ type: 'String', insecureValue: 'obelm-alice-bucket' });
    const limits = TenantLimitsSchema.parse(
      JSON.parse(parameters[names.tenantLimits]!['insecureValue'] as string),
    );
    expect(limits).toEqual(stageLimits);
  });
});

describe('stage settings of tenants and prices', () => {
  it('load with the schemas the API and the worker read them with', () => {
    for (const stage of ['production', 'staging', 'alice']) {
      const settings = settingsFor(stage);
      const config = ServiceConfigSchema.pick({ OBELM_TENANT_LIMITS: true, OBELM_PRICES: true }).parse({
        OBELM_TENANT_LIMITS: JSON.stringify(settings.tenantLimits),
        OBELM_PRICES: JSON.stringify(settings.prices),
      });
      expect(config.OBELM_PRICES).toEqual(PriceTableSchema.parse(settings.prices));
      expect(config.OBELM_TENANT_LIMITS).toEqual({ ...DEFAULT_TENANT_LIMITS, ...settings.tenantLimits });
    }
  });
});
