import { TABLE, TABLE_INDEXES, TABLE_KEY_ATTRIBUTES } from '@obelm/core';
import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';

export interface ObelmTableArgs {
  /** Production: deletion protection and point-in-time recovery. */
  protect: boolean;
}

/**
 * The single on-demand DynamoDB table: jobs, idempotency records, API keys, tenants, usage entries, rate
 * windows, the model catalog. Its keys, indexes and TTL attribute are core's (packages/core/src/table.ts).
 */
export class ObelmTable extends pulumi.ComponentResource {
  readonly table: aws.dynamodb.Table;

  constructor(name: string, args: ObelmTableArgs, opts?: pulumi.ComponentResourceOptions) {
    super('obelm:data:ObelmTable', name, {}, opts);
    const { partitionKey, sortKey, ttlAttribute } = TABLE;
    this.table = new aws.dynamodb.Table(
      name,
      {
        // On demand: no capacity to pay for while nobody calls the API.
        billingMode: 'PAY_PER_REQUEST',
        hashKey: partitionKey,
        rangeKey: sortKey,
        attributes: TABLE_KEY_ATTRIBUTES.map((name) => ({ name, type: 'S' })),
        globalSecondaryIndexes: TABLE_INDEXES.map((index) => ({
          name: index.name,
          hashKey: index.partitionKey,
          rangeKey: index.sortKey,
          projectionType: 'ALL',
        })),
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
