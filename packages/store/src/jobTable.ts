import { type DynamoDBDocumentClient, GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { dbKeys, isConditionFailed, type JobItem, type JobPut, type JobUpdate } from '@obelm/core';

/**
 * Job items: reads, and the writes of core's transitions (packages/core/src/transitions.ts), executed the same way
 * by the API, the sweeper and the worker. A lost condition returns `undefined` instead of throwing: another
 * writer moved the job, and the caller decides what that means.
 */
export class JobTable {
  constructor(
    readonly db: DynamoDBDocumentClient,
    readonly table: string,
  ) {}

  async get(jobId: string): Promise<JobItem | undefined> {
    const out = await this.db.send(
      new GetCommand({ TableName: this.table, Key: dbKeys.job(jobId), ConsistentRead: true }),
    );
    return out.Item as JobItem | undefined;
  }

  /** Puts a new job item (`jobTransitions.create`); throws when the id is taken. */
  async put(put: JobPut): Promise<void> {
    await this.db.send(new PutCommand({ TableName: this.table, ...put }));
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
