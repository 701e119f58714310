import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';

export interface ObelmTableArgs {
  /** Production: deletion protection and point-in-time recovery. */
  protect: boolean;
}

/** Names the application code relies on (packages/core/src/keys.ts): keep them in step. */
export const TABLE_SCHEMA = {
  partitionKey: 'pk',
  sortKey: 'sk',
  /** A tenant's jobs newest first: gsi1pk = TENANT#{tenant}#JOBS, gsi1sk = {createdAt}#{jobId}. */
  gsi1: { name: 'gsi1', partitionKey: 'gsi1pk', sortKey: 'gsi1sk' },
  /** Epoch seconds; DynamoDB deletes expired idempotency records and old job items on its own. */
  ttlAttribute: 'ttl',
} as const;

/** The single on-demand DynamoDB table: jobs, idempotency records, API keys, tenants, usage counters. */
export class ObelmTable extends pulumi.ComponentResource {
  readonly table: aws.dynamodb.Table;

  constructor(name: string, args: ObelmTableArgs, opts?: pulumi.ComponentResourceOptions) {
    super('obelm:data:ObelmTable', name, {}, opts);
    const { partitionKey, sortKey, gsi1, ttlAttribute } = TABLE_SCHEMA;
    this.table = new aws.dynamodb.Table(
      name,
      {
        // On demand: no capacity to pay for while nobody calls the API.
        billingMode: 'PAY_PER_REQUEST',
        hashKey: partitionKey,
        rangeKey: sortKey,
        attributes: [
          { name: partitionKey, type: 'S' },
          { name: sortKey, type: 'S' },
          { name: gsi1.partitionKey, type: 'S' },
          { name: gsi1.sortKey, type: 'S' },
        ],
        globalSecondaryIndexes: [
          { name: gsi1.name, hashKey: gsi1.partitionKey, rangeKey: gsi1.sortKey, projectionType: 'ALL' },
        ],
        ttl: { attributeName: ttlAttribute, enabled: true },
        serverSideEncryption: { enabled: true },
        pointInTimeRecovery: { enabled: args.protect },
        deletionProtectionEnabled: args.protect,
      },
      { parent: this, protect: args.protect },
    );
    this.registerOutputs({ tableName: this.table.name });
  }
}
