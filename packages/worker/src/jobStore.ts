import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { type DynamoDBDocumentClient, GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import {
  canTransition,
  dbKeys,
  type JobCheckpoint,
  type JobError,
  type JobItem,
  type JobMetrics,
  type JobOutputs,
  type JobStatus,
} from '@obelm/core';

/**
 * Every write the worker makes to a job item. Each state transition is a conditional update on the current
 * status (and, once claimed, on this worker's id), so two workers can never both own or finish a job.
 * A lost condition returns `undefined` (or false) instead of throwing: the caller decides what it means.
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

  /** queued -> running: attempts + 1, this worker's id, heartbeat now; startedAt keeps the first claim's time. */
  claim(jobId: string, workerId: string, now: Date): Promise<JobItem | undefined> {
    const at = now.toISOString();
    return this.update(jobId, {
      condition: '#status = :queued',
      set: 'SET #status = :running, #workerId = :worker, #startedAt = if_not_exists(#startedAt, :now), #heartbeatAt = :now, #updatedAt = :now ADD #attempts :one',
      values: { ':queued': 'queued', ':running': 'running', ':worker': workerId, ':now': at, ':one': 1 },
    });
  }

  /**
   * running -> queued for a job whose worker died: only if its heartbeat is still the stale one we saw, so a
   * worker that is merely slow to write keeps its job.
   */
  async requeueStale(jobId: string, seenHeartbeatAt: string, now: Date): Promise<boolean> {
    const item = await this.update(jobId, {
      condition: '#status = :running AND #heartbeatAt = :seen',
      set: 'SET #status = :queued, #updatedAt = :now REMOVE #workerId, #progress',
      values: {
        ':running': 'running',
        ':queued': 'queued',
        ':seen': seenHeartbeatAt,
        ':now': now.toISOString(),
      },
    });
    return item !== undefined;
  }

  /** Heartbeat and optional progress; returns the whole item so the caller sees `cancelRequested`. */
  touch(
    jobId: string,
    workerId: string,
    now: Date,
    progress?: { step: number; of: number },
  ): Promise<JobItem | undefined> {
    const at = now.toISOString();
    return this.update(jobId, {
      condition: '#status = :running AND #workerId = :worker',
      set: progress
        ? 'SET #heartbeatAt = :now, #updatedAt = :now, #progress = :progress'
        : 'SET #heartbeatAt = :now, #updatedAt = :now',
      values: {
        ':running': 'running',
        ':worker': workerId,
        ':now': at,
        ...(progress ? { ':progress': progress } : {}),
      },
    });
  }

  /** running -> succeeded; the item is kept for another TTL period from now. */
  succeed(
    jobId: string,
    workerId: string,
    now: Date,
    result: {
      outputs: JobOutputs;
      metrics: JobMetrics;
      progress?: { step: number; of: number };
      ttl: number;
    },
  ): Promise<JobItem | undefined> {
    const at = now.toISOString();
    // A finished job shows its whole run as done, whatever the last throttled progress write said.
    const progress = result.progress ? ', #progress = :progress' : '';
    return this.update(jobId, {
      condition: '#status = :running AND #workerId = :worker',
      set: `SET #status = :succeeded, #outputs = :outputs, #metrics = :metrics, #finishedAt = :now, #updatedAt = :now, #ttl = :ttl${progress} REMOVE #checkpoint`,
      values: {
        ...(result.progress ? { ':progress': result.progress } : {}),
        ':running': 'running',
        ':succeeded': 'succeeded',
        ':worker': workerId,
        ':outputs': result.outputs,
        ':metrics': result.metrics,
        ':now': at,
        ':ttl': result.ttl,
      },
    });
  }

  /**
   * -> failed or canceled from `from` (running jobs also need this worker's id; queued ones are failed
   * before they are claimed, e.g. after too many attempts).
   */
  end(
    jobId: string,
    to: 'failed' | 'canceled' | 'expired',
    from: { status: JobStatus; workerId?: string },
    now: Date,
    details: { error?: JobError; metrics?: JobMetrics; ttl: number },
  ): Promise<JobItem | undefined> {
    // The state machine (packages/core/src/state.ts) says which ends a status may reach; the conditional
    // write below then makes the transition atomic.
    if (!canTransition(from.status, to))
      throw new Error(`job ${jobId}: ${from.status} -> ${to} is not allowed`);
    const at = now.toISOString();
    const sets = ['#status = :to', '#finishedAt = :now', '#updatedAt = :now', '#ttl = :ttl'];
    const values: Record<string, unknown> = {
      ':from': from.status,
      ':to': to,
      ':now': at,
      ':ttl': details.ttl,
    };
    if (details.error) {
      sets.push('#error = :error');
      values[':error'] = details.error;
    }
    if (details.metrics) {
      sets.push('#metrics = :metrics');
      values[':metrics'] = details.metrics;
    }
    let condition = '#status = :from';
    if (from.workerId !== undefined) {
      condition += ' AND #workerId = :worker';
      values[':worker'] = from.workerId;
    }
    return this.update(jobId, {
      condition,
      set: `SET ${sets.join(', ')} REMOVE #checkpoint`,
      values,
    });
  }

  /**
   * running -> queued after an unexpected error in this worker: the attempt stays counted, so a job that
   * keeps crashing ends `too_many_attempts` instead of looping.
   */
  release(jobId: string, workerId: string, now: Date): Promise<JobItem | undefined> {
    return this.update(jobId, {
      condition: '#status = :running AND #workerId = :worker',
      set: 'SET #status = :queued, #updatedAt = :now REMOVE #workerId, #progress',
      values: { ':running': 'running', ':queued': 'queued', ':worker': workerId, ':now': now.toISOString() },
    });
  }

  /**
   * running -> queued with a checkpoint, after a graceful stop. The attempt is given back: being stopped
   * (a spot interruption, a deploy) is not the job's fault and must not count towards the crash limit.
   */
  checkpoint(
    jobId: string,
    workerId: string,
    now: Date,
    checkpoint: JobCheckpoint | undefined,
  ): Promise<JobItem | undefined> {
    // Without a new checkpoint (stopped before the first step) any earlier one stays valid.
    return this.update(jobId, {
      condition: '#status = :running AND #workerId = :worker',
      set: `SET #status = :queued, #updatedAt = :now${checkpoint ? ', #checkpoint = :checkpoint' : ''} ADD #attempts :minusOne REMOVE #workerId, #progress`,
      values: {
        ':running': 'running',
        ':queued': 'queued',
        ':worker': workerId,
        ':now': now.toISOString(),
        ':minusOne': -1,
        ...(checkpoint ? { ':checkpoint': checkpoint } : {}),
      },
    });
  }

  private async update(
    jobId: string,
    expr: { condition: string; set: string; values: Record<string, unknown> },
  ): Promise<JobItem | undefined> {
    // Every attribute goes through a #name: DynamoDB reserves hundreds of words (status, ttl, metrics...).
    const names: Record<string, string> = {};
    for (const [alias, name] of `#pk ${expr.condition} ${expr.set}`.matchAll(/#(\w+)/g)) names[alias] = name!;
    try {
      const out = await this.db.send(
        new UpdateCommand({
          TableName: this.table,
          Key: dbKeys.job(jobId),
          ConditionExpression: `attribute_exists(#pk) AND ${expr.condition}`,
          UpdateExpression: expr.set,
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: expr.values,
          ReturnValues: 'ALL_NEW',
        }),
      );
      return out.Attributes as JobItem;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return undefined;
      throw error;
    }
  }
}
