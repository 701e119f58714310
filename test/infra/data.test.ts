import { BUCKET_CORS } from '@obelm/core';
import * as pulumi from '@pulumi/pulumi';
import { beforeAll, describe, expect, it } from 'vitest';
import { createTableInput } from '../../packages/local/src/provision.ts';
import { one, type Recorded, recordResources, resolved, settle } from './pulumiMocks.ts';

let recorded: Recorded[];
let bucketModule: typeof import('../../infra/bucket.ts');

beforeAll(async () => {
  recorded = await recordResources();
  bucketModule = await import('../../infra/bucket.ts');
  const { ObelmTable } = await import('../../infra/table.ts');
  const bucket = new bucketModule.ObelmBucket('Storage', { outputRetentionDays: 30, protect: false });
  // A configured origin and one known only later (the playground site's URL).
  bucket.allowBrowserOrigins(['https://app.example', pulumi.output('https://playground.example')]);
  bucket.notifyBatchUploads({
    arn: 'arn:aws:sqs:us-east-1:123456789012:Batch',
    url: 'https://sqs.us-east-1.amazonaws.com/123456789012/Batch',
  });
  new ObelmTable('Table', { protect: true });
  await settle();
});

describe('bucket', () => {
  it('blocks all public access and encrypts at rest', () => {
    expect(one(recorded, 'aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock').inputs).toMatchObject({
      blockPublicAcls: true,
      blockPublicPolicy: true,
      ignorePublicAcls: true,
      restrictPublicBuckets: true,
    });
    const sse = one(
      recorded,
      'aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration',
    );
    expect(sse.inputs.rules).toEqual([
      { applyServerSideEncryptionByDefault: { sseAlgorithm: 'AES256' }, bucketKeyEnabled: true },
    ]);
  });

  it('expires uploads after a day and outputs after the retention', () => {
    const rules = one(recorded, 'aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration').inputs
      .rules as {
      filter: { prefix?: string };
      expiration?: { days: number };
    }[];
    const days = Object.fromEntries(
      rules.filter((r) => r.expiration).map((r) => [r.filter.prefix, r.expiration?.days]),
    );
    expect(days).toEqual({ 'uploads/': 1, 'jobs/': 30, 'batch-out/': 30, 'batch/': 30 });
  });

  it("allows browser uploads by core's rule, from the given origins only", () => {
    const cors = one(recorded, 'aws:s3/bucketCorsConfiguration:BucketCorsConfiguration');
    expect(cors.name).toBe('StorageCors');
    expect(cors.inputs.corsRules).toEqual([
      {
        ...BUCKET_CORS,
        allowedOrigins: ['https://app.example', 'https://playground.example'],
      },
    ]);
    expect(BUCKET_CORS.allowedMethods).toContain('POST');
  });

  it('denies requests without TLS', async () => {
    const policy = JSON.parse(
      await resolved(one(recorded, 'aws:s3/bucketPolicy:BucketPolicy').inputs.policy as string),
    );
    expect(policy.Statement[0]).toMatchObject({
      Effect: 'Deny',
      Condition: { Bool: { 'aws:SecureTransport': 'false' } },
    });
  });

  it('sends an event to the batch queue for objects created under batch/ only, and invokes nothing', () => {
    const notification = one(recorded, 'aws:s3/bucketNotification:BucketNotification');
    expect(notification.inputs.queues).toEqual([
      {
        queueArn: 'arn:aws:sqs:us-east-1:123456789012:Batch',
        events: ['s3:ObjectCreated:*'],
        filterPrefix: 'batch/',
      },
    ]);
    expect(notification.inputs.lambdaFunctions).toBeUndefined();
    expect(recorded.filter((r) => r.type === 'aws:lambda/permission:Permission')).toEqual([]);
  });

  it('lets only this bucket, in this account, send to the batch queue, before the notification is set', async () => {
    const queuePolicy = one(recorded, 'aws:sqs/queuePolicy:QueuePolicy', 'BatchUploadsSend');
    expect(queuePolicy.inputs.queueUrl).toBe('https://sqs.us-east-1.amazonaws.com/123456789012/Batch');
    const policy = JSON.parse(await resolved(queuePolicy.inputs.policy as string));
    // Bucket names are global and can be re-created elsewhere: the account is checked too.
    expect(policy.Statement).toEqual([
      {
        Sid: 'BucketNotifications',
        Effect: 'Allow',
        Principal: { Service: 's3.amazonaws.com' },
        Action: 'sqs:SendMessage',
        Resource: 'arn:aws:sqs:us-east-1:123456789012:Batch',
        Condition: {
          ArnEquals: { 'aws:SourceArn': 'arn:aws:s3:us-east-1:123456789012:Storage' },
          StringEquals: { 'aws:SourceAccount': '123456789012' },
        },
      },
    ]);
    // S3 refuses a queue destination it may not send to: the policy must exist first.
    expect(one(recorded, 'aws:s3/bucketNotification:BucketNotification').dependencies).toContain(
      'BatchUploadsSend',
    );
  });

  it('rejects a retention shorter than a day', () => {
    expect(() => new bucketModule.ObelmBucket('Bad', { outputRetentionDays: 0, protect: false })).toThrow(
      expect.objectContaining({ code: 'bad_retention' }),
    );
  });
});

describe('table', () => {
  it('is on demand with pk/sk, the gsi1 and gsi2 indexes and the ttl attribute', () => {
    const table = one(recorded, 'aws:dynamodb/table:Table');
    expect(table.inputs).toMatchObject({
      billingMode: 'PAY_PER_REQUEST',
      hashKey: 'pk',
      rangeKey: 'sk',
      ttl: { attributeName: 'ttl', enabled: true },
      deletionProtectionEnabled: true,
    });
    expect(table.inputs.globalSecondaryIndexes).toEqual([
      { name: 'gsi1', hashKey: 'gsi1pk', rangeKey: 'gsi1sk', projectionType: 'ALL' },
      { name: 'gsi2', hashKey: 'gsi2pk', rangeKey: 'gsi2sk', projectionType: 'ALL' },
    ]);
    expect(table.inputs.attributes).toEqual(
      ['pk', 'sk', 'gsi1pk', 'gsi1sk', 'gsi2pk', 'gsi2sk'].map((name) => ({ name, type: 'S' })),
    );
  });

  it('has the keys and index the local stack creates its table with', () => {
    const cloud = one(recorded, 'aws:dynamodb/table:Table').inputs;
    const local = createTableInput('t');
    expect(local.AttributeDefinitions).toEqual(
      (cloud.attributes as { name: string; type: string }[]).map((a) => ({
        AttributeName: a.name,
        AttributeType: a.type,
      })),
    );
    expect(local.KeySchema).toEqual([
      { AttributeName: cloud.hashKey, KeyType: 'HASH' },
      { AttributeName: cloud.rangeKey, KeyType: 'RANGE' },
    ]);
    expect(local.GlobalSecondaryIndexes).toEqual(
      (cloud.globalSecondaryIndexes as { name: string; hashKey: string; rangeKey: string }[]).map((i) => ({
        IndexName: i.name,
        KeySchema: [
          { AttributeName: i.hashKey, KeyType: 'HASH' },
          { AttributeName: i.rangeKey, KeyType: 'RANGE' },
        ],
        Projection: { ProjectionType: 'ALL' },
      })),
    );
    expect(local.BillingMode).toBe(cloud.billingMode);
  });
});

describe('alarms', () => {
  it('alarms on any DLQ message and on a job older than the stage limit', async () => {
    const { ObelmAlarms } = await import('../../infra/alarms.ts');
    new ObelmAlarms('Ops', {
      deadLetterQueues: { Jobs: 'jobs-dlq', Webhooks: 'webhooks-dlq' },
      jobsQueueName: 'jobs',
      maxJobSeconds: 1800,
    });
    await settle();
    const dlq = one(recorded, 'aws:cloudwatch/metricAlarm:MetricAlarm', 'OpsJobsDlqDepth');
    expect(dlq.inputs).toMatchObject({
      metricName: 'ApproximateNumberOfMessagesVisible',
      dimensions: { QueueName: 'jobs-dlq' },
      comparisonOperator: 'GreaterThanThreshold',
      threshold: 0,
    });
    expect(one(recorded, 'aws:cloudwatch/metricAlarm:MetricAlarm', 'OpsWebhooksDlqDepth')).toBeDefined();
    const stuck = one(recorded, 'aws:cloudwatch/metricAlarm:MetricAlarm', 'OpsStuckJob');
    expect(stuck.inputs).toMatchObject({ metricName: 'ApproximateAgeOfOldestMessage', threshold: 1800 });
    expect(stuck.inputs.alarmActions).toEqual(['arn:aws:sns:us-east-1:123456789012:OpsTopic']);
  });
});
