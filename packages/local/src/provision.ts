import {
  type AttributeValue,
  CreateTableCommand,
  type CreateTableCommandInput,
  DeleteTableCommand,
  DescribeTableCommand,
  type DynamoDBClient,
  PutItemCommand,
  paginateScan,
  ResourceInUseException,
  ResourceNotFoundException,
} from '@aws-sdk/client-dynamodb';
import { CreateBucketCommand, HeadBucketCommand, type S3Client } from '@aws-sdk/client-s3';
import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { type QueueSettings, TABLE, TABLE_INDEXES, TABLE_KEY_ATTRIBUTES } from '@obelm/core';
import { createTenant, TenantError, type TenantStore } from '@obelm/store';

/** Creates what the cloud stack declares, idempotently: safe on every start, with or without old data. */

export async function ensureBucket(s3: S3Client, bucket: string): Promise<void> {
  try {
    await s3.send(new HeadBucketCommand({ Bucket: bucket }));
  } catch {
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  }
}

/** The name of queue `name`'s dead-letter queue. */
const deadLetterName = (name: string) => `${name}-dlq`;

/** A queue with its dead-letter queue (core's settings): a message received `maxReceiveCount` times moves there. */
export async function ensureQueueWithDlq(
  sqs: SQSClient,
  name: string,
  { visibilityTimeoutSeconds, maxReceiveCount }: QueueSettings,
): Promise<string> {
  const dlq = await sqs.send(new CreateQueueCommand({ QueueName: deadLetterName(name) }));
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

/** The URL of the dead-letter queue ensureQueueWithDlq made for queue `name`. */
export async function deadLetterQueueUrl(sqs: SQSClient, name: string): Promise<string> {
  return (await sqs.send(new GetQueueUrlCommand({ QueueName: deadLetterName(name) }))).QueueUrl!;
}

/**
 * CreateTable's input for core's table definition (packages/core/src/table.ts), on demand like the cloud's.
 * TTL is left out: dynalite cannot enable it, and nothing local relies on expiry by TTL.
 */
export function createTableInput(table: string): CreateTableCommandInput {
  const { partitionKey, sortKey } = TABLE;
  return {
    TableName: table,
    BillingMode: 'PAY_PER_REQUEST',
    AttributeDefinitions: TABLE_KEY_ATTRIBUTES.map((name) => ({ AttributeName: name, AttributeType: 'S' })),
    KeySchema: [
      { AttributeName: partitionKey, KeyType: 'HASH' },
      { AttributeName: sortKey, KeyType: 'RANGE' },
    ],
    GlobalSecondaryIndexes: TABLE_INDEXES.map((index) => ({
      IndexName: index.name,
      KeySchema: [
        { AttributeName: index.partitionKey, KeyType: 'HASH' },
        { AttributeName: index.sortKey, KeyType: 'RANGE' },
      ],
      Projection: { ProjectionType: 'ALL' },
    })),
  };
}

/**
 * Creates the single table unless it exists, and waits until it is ACTIVE. A table from an older version that
 * lacks one of core's indexes is rebuilt with its items (dynalite cannot add an index to a table).
 */
export async function ensureTable(db: DynamoDBClient, table: string): Promise<void> {
  try {
    await db.send(new CreateTableCommand(createTableInput(table)));
  } catch (err) {
    if (!(err instanceof ResourceInUseException)) throw err;
  }
  const { GlobalSecondaryIndexes = [] } = await waitActive(db, table);
  const present = new Set(GlobalSecondaryIndexes.map((i) => i.IndexName));
  if (TABLE_INDEXES.every((index) => present.has(index.name))) return;
  const items: Record<string, AttributeValue>[] = [];
  for await (const page of paginateScan({ client: db }, { TableName: table })) {
    items.push(...(page.Items ?? []));
  }
  await db.send(new DeleteTableCommand({ TableName: table }));
  await waitGone(db, table);
  await db.send(new CreateTableCommand(createTableInput(table)));
  await waitActive(db, table);
  for (const item of items) await db.send(new PutItemCommand({ TableName: table, Item: item }));
}

async function waitActive(db: DynamoDBClient, table: string) {
  for (let i = 0; i < 100; i++) {
    const { Table } = await db.send(new DescribeTableCommand({ TableName: table }));
    if (Table?.TableStatus === 'ACTIVE') return Table;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`Table ${table} did not become ACTIVE`);
}

/** dynalite deletes a table in the background, longer for a larger one: a create before it is gone fails. */
async function waitGone(db: DynamoDBClient, table: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    try {
      await db.send(new DescribeTableCommand({ TableName: table }));
    } catch (err) {
      if (err instanceof ResourceNotFoundException) return;
      throw err;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`Table ${table} was not deleted`);
}

/** The dev tenant, created on the first start; left as an admin set it (limits, a suspension) after that. */
export async function ensureTenant(store: TenantStore, tenant: string): Promise<void> {
  try {
    await createTenant(store, tenant);
  } catch (err) {
    if (!(err instanceof TenantError && err.code === 'tenant_exists')) throw err;
  }
}
