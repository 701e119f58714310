import {
  CreateTableCommand,
  DescribeTableCommand,
  type DynamoDBClient,
  ResourceInUseException,
} from '@aws-sdk/client-dynamodb';
import { CreateBucketCommand, HeadBucketCommand, type S3Client } from '@aws-sdk/client-s3';
import { CreateQueueCommand, GetQueueAttributesCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { type DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';
import { hashApiKey } from '@obelm/api';
import { type ApiKeyItem, dbKeys, GSI1 } from '@obelm/core';

/** Creates what the cloud stack declares, idempotently: safe on every start, with or without old data. */

export async function ensureBucket(s3: S3Client, bucket: string): Promise<void> {
  try {
    await s3.send(new HeadBucketCommand({ Bucket: bucket }));
  } catch {
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  }
}

/** A queue with its dead-letter queue: a message received `maxReceiveCount` times moves there. */
export async function ensureQueueWithDlq(
  sqs: SQSClient,
  name: string,
  { visibilityTimeout, maxReceiveCount }: { visibilityTimeout: number; maxReceiveCount: number },
): Promise<string> {
  const dlq = await sqs.send(new CreateQueueCommand({ QueueName: `${name}-dlq` }));
  const { Attributes } = await sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: dlq.QueueUrl, AttributeNames: ['QueueArn'] }),
  );
  const queue = await sqs.send(
    new CreateQueueCommand({
      QueueName: name,
      Attributes: {
        VisibilityTimeout: String(visibilityTimeout),
        RedrivePolicy: JSON.stringify({ deadLetterTargetArn: Attributes?.['QueueArn'], maxReceiveCount }),
      },
    }),
  );
  return queue.QueueUrl!;
}

/** The single table: pk/sk, gsi1 (gsi1pk/gsi1sk), on demand. TTL cannot be enabled on dynalite. */
export async function ensureTable(db: DynamoDBClient, table: string): Promise<void> {
  try {
    await db.send(
      new CreateTableCommand({
        TableName: table,
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: [
          { AttributeName: 'pk', AttributeType: 'S' },
          { AttributeName: 'sk', AttributeType: 'S' },
          { AttributeName: 'gsi1pk', AttributeType: 'S' },
          { AttributeName: 'gsi1sk', AttributeType: 'S' },
        ],
        KeySchema: [
          { AttributeName: 'pk', KeyType: 'HASH' },
          { AttributeName: 'sk', KeyType: 'RANGE' },
        ],
        GlobalSecondaryIndexes: [
          {
            IndexName: GSI1,
            KeySchema: [
              { AttributeName: 'gsi1pk', KeyType: 'HASH' },
              { AttributeName: 'gsi1sk', KeyType: 'RANGE' },
            ],
            Projection: { ProjectionType: 'ALL' },
          },
        ],
      }),
    );
  } catch (err) {
    if (!(err instanceof ResourceInUseException)) throw err;
  }
  for (let i = 0; i < 100; i++) {
    const { Table } = await db.send(new DescribeTableCommand({ TableName: table }));
    if (Table?.TableStatus === 'ACTIVE') return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`Table ${table} did not become ACTIVE`);
}

/** Stores the dev key's hash -> tenant, the same item a key-management API would write in the cloud. */
export async function seedApiKey(
  db: DynamoDBDocumentClient,
  table: string,
  key: string,
  tenant: string,
): Promise<void> {
  const item: ApiKeyItem = { tenant, status: 'active', createdAt: new Date().toISOString() };
  await db.send(new PutCommand({ TableName: table, Item: { ...dbKeys.apiKey(hashApiKey(key)), ...item } }));
}
