import { type DynamoDBDocumentClient, GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { dbKeys, isConditionFailed, type JobItem, type JobUpdate } from '@obelm/core';

/**
 * The worker's access to job items: reads, and the writes of core's transitions (packages/core/src/transitions.ts),
 * the same ones the API and the sweeper send. A lost condition returns `undefined` instead of throwing: another
 * writer moved the job, and the caller decides what that means.
 */
export class JobStore {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly table: string,
  ) {}

  async get(jobId: string): Promise<JobItem | undefined> {
    const out = await this.db.send(
      new GetCommand({ TableName: this.table, Key: dbKeys.job(jobId), ConsistentRead: true }),
    );
    return out.Item as JobItem | undefined;
  }

  /** Applies a transition; the new item, or undefined when its condition failed. */
  async apply(update: JobUpdate): Promise<JobItem | undefined> {
    const { from: _from, to: _to, ...input } = update;
    try {
      const out = await this.db.send(
        new UpdateCommand({ TableName: this.table, ReturnValues: 'ALL_NEW', ...input }),
      );
      return out.Attributes as JobItem;
    } catch (error) {
      if (isConditionFailed(error)) return undefined;
      throw error;
    }
  }
}
