import { describe, expect, it } from 'vitest';
import { dbKeys, GSI1, S3_PREFIXES, s3Keys } from '../src/keys.ts';
import { TABLE } from '../src/table.ts';

describe('DynamoDB keys', () => {
  const primaryKey = [TABLE.partitionKey, TABLE.sortKey].sort();

  it('writes every item key under the table key attributes', () => {
    const items = [
      dbKeys.job('j1'),
      dbKeys.upload('u1'),
      dbKeys.idempotency('t1', 'k1'),
      dbKeys.apiKey('key_abcdefghijkl'),
      dbKeys.tenant('t1'),
      dbKeys.usageEntry('t1', '2025-01', 'j1'),
      dbKeys.rateWindow('key_abcdefghijkl', 1_700_000_000),
      dbKeys.model('m1'),
      dbKeys.webhookDelivery('evt_j1_succeeded'),
      dbKeys.batch('b1'),
      dbKeys.batchJob('b1', 'j1'),
      dbKeys.modelPace('m1', '2025-01-01T10'),
    ];
    for (const key of items) expect(Object.keys(key).sort()).toEqual(primaryKey);
    // Every function of dbKeys that builds a primary key is listed above.
    const indexKeys = [
      'jobByTenant',
      'tenantJobsPartition',
      'activeJob',
      'tenantActivePartition',
      'keyByTenant',
      'tenantKeysPartition',
      'usageMonthPrefix',
      'batchByTenant',
      'modelPacePartition',
    ];
    const builders = Object.entries(dbKeys).filter(
      ([name, build]) => typeof build === 'function' && !indexKeys.includes(name),
    );
    expect(builders).toHaveLength(items.length);
  });

  it("lists a tenant's jobs through the index core defines", () => {
    const key = dbKeys.jobByTenant('t1', '2025-01-01T00:00:00.000Z', 'j1');
    expect(Object.keys(key).sort()).toEqual([TABLE.gsi1.partitionKey, TABLE.gsi1.sortKey].sort());
    expect(key[TABLE.gsi1.partitionKey]).toBe(dbKeys.tenantJobsPartition('t1'));
    expect(GSI1).toBe(TABLE.gsi1.name);
  });

  it("lists a tenant's API keys through gsi1 and keeps its usage entries in the tenant's partition", () => {
    const key = dbKeys.keyByTenant('t1', '2025-01-01T00:00:00.000Z', 'key_abcdefghijkl');
    expect(Object.keys(key).sort()).toEqual([TABLE.gsi1.partitionKey, TABLE.gsi1.sortKey].sort());
    expect(key[TABLE.gsi1.partitionKey]).toBe(dbKeys.tenantKeysPartition('t1'));
    // Keys and jobs of one tenant never share a gsi1 partition.
    expect(dbKeys.tenantKeysPartition('t1')).not.toBe(dbKeys.tenantJobsPartition('t1'));
    const entry = dbKeys.usageEntry('t1', '2025-01', 'j1');
    expect(entry.pk).toBe(dbKeys.tenant('t1').pk);
    expect(entry.sk.startsWith(dbKeys.usageMonthPrefix('2025-01'))).toBe(true);
    expect(dbKeys.usageEntry('t1', '2025-10', 'j1').sk.startsWith(dbKeys.usageMonthPrefix('2025-01'))).toBe(
      false,
    );
  });

  it('keeps the models partition the model keys are written to', () => {
    expect(dbKeys.model('m1')[TABLE.partitionKey]).toBe(dbKeys.modelsPartition);
  });
});

describe('S3 keys', () => {
  it('puts every object under one of the bucket prefixes, in the same formats as before', () => {
    expect(s3Keys.upload('t', 'u')).toBe('uploads/t/u');
    expect(s3Keys.jobPrefix('t', 'j')).toBe('jobs/t/j/');
    expect(s3Keys.jobInput('t', 'j', 2)).toBe('jobs/t/j/input-2');
    expect(s3Keys.jobImage('t', 'j', 'png')).toBe('jobs/t/j/image.png');
    expect(s3Keys.jobImageN('t', 'j', 1, 'png')).toBe('jobs/t/j/image-1.png');
    expect(s3Keys.jobNoise('t', 'j')).toBe('jobs/t/j/noise.safetensors');
    expect(s3Keys.jobReport('t', 'j')).toBe('jobs/t/j/report.json');
    expect(s3Keys.jobErrorMap('t', 'j')).toBe('jobs/t/j/error-map.png');
    expect(s3Keys.jobCheckpoints('t', 'j')).toBe('jobs/t/j/checkpoint');
    expect(s3Keys.jobCheckpointStage('t', 'j', 0)).toBe('jobs/t/j/checkpoint-stage-0.safetensors');
    expect(s3Keys.model('sd15')).toBe('models/sd15/');
    expect(s3Keys.jobInput('t', 'j', 0).startsWith(S3_PREFIXES.jobs)).toBe(true);
    expect(s3Keys.upload('t', 'u').startsWith(S3_PREFIXES.uploads)).toBe(true);
    expect(s3Keys.model('m').startsWith(S3_PREFIXES.models)).toBe(true);
  });
});
