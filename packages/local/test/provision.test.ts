import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CreateTableCommand,
  DescribeTableCommand,
  DynamoDBClient,
  PutItemCommand,
  paginateScan,
  ScanCommand,
} from '@aws-sdk/client-dynamodb';
import { TABLE_INDEXES } from '@obelm/core';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { createTableInput, ensureTable } from '../src/provision.ts';
import { type StandIn, startDynamo } from '../src/standins.ts';

let dir: string;
let dynamo: StandIn;
let db: DynamoDBClient;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'obelm-provision-'));
  dynamo = await startDynamo(dir);
  db = new DynamoDBClient({
    endpoint: dynamo.endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
});
afterAll(async () => {
  db?.destroy();
  await dynamo?.stop();
  rmSync(dir, { recursive: true, force: true });
});

test("a table from an older version, without core's indexes, is rebuilt with every item (several Scan pages)", async () => {
  const table = 'obelm-old';
  // An older version's table: the same keys, no indexes.
  const { GlobalSecondaryIndexes: _indexes, AttributeDefinitions = [], ...input } = createTableInput(table);
  const keys = new Set(input.KeySchema?.map((key) => key.AttributeName));
  await db.send(
    new CreateTableCommand({
      ...input,
      AttributeDefinitions: AttributeDefinitions.filter((a) => keys.has(a.AttributeName)),
    }),
  );
  // 8 items of 300 KB: a Scan page holds at most 1 MB, so reading them back takes several pages.
  const padding = 'x'.repeat(300_000);
  for (let n = 0; n < 8; n++) {
    const item = { pk: { S: `ITEM#${n}` }, sk: { S: 'ITEM' }, padding: { S: padding } };
    await db.send(new PutItemCommand({ TableName: table, Item: item }));
  }
  const firstPage = await db.send(new ScanCommand({ TableName: table }));
  expect(firstPage.LastEvaluatedKey).toBeDefined();

  await ensureTable(db, table);

  const { Table } = await db.send(new DescribeTableCommand({ TableName: table }));
  expect(Table?.GlobalSecondaryIndexes?.map((index) => index.IndexName).sort()).toEqual(
    TABLE_INDEXES.map((index) => index.name).sort(),
  );
  expect(await storedKeys(table, padding)).toEqual(Array.from({ length: 8 }, (_, n) => `ITEM#${n}`));

  // A table that has them already is left as it is.
  await ensureTable(db, table);
  expect(await storedKeys(table, padding)).toHaveLength(8);
});

/** The keys of every item in `table`, each checked to hold its padding whole. */
async function storedKeys(table: string, padding: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const page of paginateScan({ client: db }, { TableName: table })) {
    for (const item of page.Items ?? []) {
      expect(item['padding']?.S).toBe(padding);
      keys.push(item['pk']!.S!);
    }
  }
  return keys.sort();
}
