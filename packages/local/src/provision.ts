import {
  CreateTableCommand,
  type CreateTableCommandInput,
  DescribeTableCommand,
  type DynamoDBClient,
  ResourceInUseException,
} from '@aws-sdk/client-dynamodb';
import { CreateBucketCommand, HeadBucketCommand, type S3Client } from '@aws-sdk/client-s3';
import { CreateQueueCommand, GetQueueAttributesCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { type DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';
import { hashApiKey } from '@obelm/api';
import { type ApiKeyItem, dbKeys, type QueueSettings, TABLE, TABLE_KEY_ATTRIBUTES } from '@obelm/core';

/** Creates what the cloud stack declares, idempotently: safe on every start, with or without old data. */

export async function ensureBucket(s3: S3Client, bucket: string): Promise<void> {
  try {
    await s3.send(new HeadBucketCommand({ Bucket: bucket }));
  } catch {
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  }
}

/** A queue with its dead-letter queue (core's settings): a message received `maxReceiveCount` times moves there. */
export async function ensureQueueWithDlq(
  sqs: SQSClient,
  name: string,
  { visibilityTimeoutSeconds, maxReceiveCount }: QueueSettings,
): Promise<string> {
  const dlq = await sqs.send(new CreateQueueCommand({ QueueName: `${name}-dlq` }));
  const { Attributes } = await sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: dlq.QueueUrl, AttributeNames: ['QueueArn'] }),
  );
  const queue = await sqs.send(
    new CreateQueueCommand({
      QueueName: name,
      Attributes: {
        VisibilityTimeout: String(visibilityTimeoutSeconds),
        RedrivePolicy: JSON.stringify({ deadLetterTargetArn: Attributes?.['QueueArn'], maxReceiveCount }),
      },
    }),
  );
  return queue.QueueUrl!;
}

/**
 * CreateTable's input for core's table definition (packages/core/src/table.ts), on demand like the cloud's.
 * TTL is left out: dynalite cannot enable it, and nothing local relies on expiry by TTL.
 */
export function createTableInput(table: string): CreateTableCommandInput {
  const { partitionKey, sortKey, gsi1 } = TABLE;
  return {
    TableName: table,
    BillingMode: 'PAY_PER_REQUEST',
    AttributeDefinitions: TABLE_KEY_ATTRIBUTES.map((name) => ({ AttributeName: name, AttributeType: 'S' })),
    KeySchema: [
      { AttributeName: partitionKey, KeyType: 'HASH' },
      { AttributeName: sortKey, KeyType: 'RANGE' },
    ],
    GlobalSecondaryIndexes: [
      {
        IndexName: gsi1.name,
        KeySchema: [
          { AttributeName: gsi1.partitionKey, KeyType: 'HASH' },
          { AttributeName: gsi1.sortKey, KeyType: 'RANGE' },
        ],
        Projection: { ProjectionType: 'ALL' },
      },
    ],
  };
}

/** Creates the single table unless it exists, and waits until it is ACTIVE. */
export async function ensureTable(db: DynamoDBClient, table: string): Promise<void> {
  try {
    await db.send(new CreateTableCommand(createTableInput(table)));
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
