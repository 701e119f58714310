import { QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { dbKeys, type JobItem, ttlAfter } from '@obelm/core';
import type { StoreContext } from './context.ts';

/**
 * A model's recent pace: milliseconds of a worker's run per requested sampler step, from its succeeded jobs
 * (`metrics.runMs` over `params.steps`), summed per UTC hour by atomic ADDs (one small write per job end, no
 * read, concurrent ends never lose one). The API estimates a queued job's start and finish from it (jobs/eta.ts).
 * Kept two days: only the last hours are read.
 */
const KEEP_SECONDS = 2 * 86_400;
/** Hours read back: the current one and the one before, so a new hour starts with the last one's figures. */
const HOURS_READ = 2;

export interface ModelPace {
  /** Worker run milliseconds per requested step. */
  msPerStep: number;
  /** Succeeded jobs it is measured on. */
  jobs: number;
}

const hourOf = (at: Date) => at.toISOString().slice(0, 13);

/** Adds a succeeded job's run to its model's pace; other ends, and jobs without a run time, add nothing. */
export async function recordModelPace(ctx: Pick<StoreContext, 'db' | 'table'>, job: JobItem): Promise<void> {
  const runMs = job.metrics?.runMs;
  if (job.status !== 'succeeded' || runMs === undefined || !job.finishedAt) return;
  const finished = new Date(job.finishedAt);
  await ctx.db.send(
    new UpdateCommand({
      TableName: ctx.table,
      Key: dbKeys.modelPace(job.params.model, hourOf(finished)),
      UpdateExpression: 'ADD #runMs :runMs, #steps :steps, #jobs :one SET #ttl = :ttl',
      ExpressionAttributeNames: { '#runMs': 'runMs', '#steps': 'steps', '#jobs': 'jobs', '#ttl': 'ttl' },
      ExpressionAttributeValues: {
        ':runMs': Math.round(runMs),
        ':steps': job.params.steps,
        ':one': 1,
        ':ttl': ttlAfter(finished, KEEP_SECONDS),
      },
    }),
  );
}

/** The model's pace over its last hours of succeeded jobs; undefined when none ran lately. */
export async function modelPace(
  ctx: Pick<StoreContext, 'db' | 'table'>,
  modelId: string,
): Promise<ModelPace | undefined> {
  const { Items = [] } = await ctx.db.send(
    new QueryCommand({
      TableName: ctx.table,
      KeyConditionExpression: 'pk = :pk',
      ExpressionAttributeValues: { ':pk': dbKeys.modelPacePartition(modelId) },
      ScanIndexForward: false,
      Limit: HOURS_READ,
    }),
  );
  let runMs = 0;
  let steps = 0;
  let jobs = 0;
  for (const item of Items) {
    runMs += Number(item['runMs'] ?? 0);
    steps += Number(item['steps'] ?? 0);
    jobs += Number(item['jobs'] ?? 0);
  }
  return steps > 0 ? { msPerStep: runMs / steps, jobs } : undefined;
}
