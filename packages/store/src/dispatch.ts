import { SendMessageCommand } from '@aws-sdk/client-sqs';
import {
  paginateQuery,
  QueryCommand,
  type QueryCommandInput,
  type QueryCommandOutput,
} from '@aws-sdk/lib-dynamodb';
import {
  dbKeys,
  describeError,
  GSI2,
  type JobItem,
  jobMessage,
  jobTransitions,
  type Logger,
} from '@obelm/core';
import { coalescing } from './coalesce.ts';
import type { StoreContext } from './context.ts';
import { tenantLimits } from './tenants.ts';

/**
 * Fair share by admission in the app: a tenant has at most `parallelJobs` jobs in the shared jobs queue or
 * running (`dispatch: 'sent'`); the rest wait in the table (`held`, no message) and are released oldest first
 * as the tenant's sent jobs end. Another tenant's job therefore never queues behind more than the parallelJobs
 * of each busy tenant, whatever their backlog. Chosen over SQS fair queues (message groups on a standard queue)
 * because it behaves the same on the local stand-in queue, bounds a tenant's share of the GPUs by a limit the
 * operator sets, and needs no queue feature: only gsi2, the sparse index of active jobs (core table.ts).
 *
 * gsi2 reads are eventually consistent in the cloud (a GSI offers nothing else), usually within a second: the
 * counts may miss a job put or ended a moment ago, so a burst of concurrent requests can overshoot
 * `maxActiveJobs` or `parallelJobs` by the few requests in flight. The transitions themselves are conditional,
 * so no job is ever sent twice.
 */

/** A tenant's active (queued or running) jobs, and how many of those hold a dispatch slot. */
export async function activeCounts(
  ctx: StoreContext,
  tenant: string,
): Promise<{ active: number; sent: number }> {
  const [active, sent] = await Promise.all([countActive(ctx, tenant), countActive(ctx, tenant, 'sent')]);
  return { active, sent };
}

/** Sends a job's ids (never its payload) to the jobs queue; duplicates are harmless, workers claim conditionally. */
export async function sendJobMessage(ctx: StoreContext, job: Pick<JobItem, 'id' | 'tenant'>): Promise<void> {
  await ctx.sqs.send(
    new SendMessageCommand({
      QueueUrl: ctx.jobsQueueUrl,
      MessageBody: JSON.stringify(jobMessage(job.id, job.tenant)),
    }),
  );
}

/**
 * Fills the tenant's free dispatch slots with its oldest held jobs: each gets its message, then takes its slot
 * by the conditional `jobTransitions.dispatch` (held -> sent). Message first, so that a crash between the two
 * (a worker killed in its job's end relay) leaves a held job with a message, which a worker claims into a slot
 * at once (core transitions claim), rather than a sent job without one, which only the sweeper's lost-message
 * rule finds, minutes later. Safe to run concurrently (every job end of the tenant calls it, and the sweeper):
 * a job is dispatched by one caller only; a caller that loses a job to another (or to a worker's claim) has sent
 * a duplicate message, which workers drop (claims are conditional), counts the slots again and goes on with the
 * next. Returns the released ids.
 */
export function releaseHeld(ctx: StoreContext, tenant: string): Promise<string[]> {
  let release = releasers.get(ctx);
  if (!release) {
    release = coalescing((of: string) => releaseHeldNow(ctx, of));
    releasers.set(ctx, release);
  }
  return release(tenant);
}

/**
 * One process's releases of a tenant run one at a time (coalesce.ts): the jobs a worker ran together end together,
 * and each end calls releaseHeld. Racing, they would all send messages for the same oldest held jobs (message
 * first, above), all but one of them duplicates that workers receive and drop instead of real jobs (and that a
 * backlog metric counts). Callers in other processes can still race, safely, as above.
 */
const releasers = new WeakMap<StoreContext, (tenant: string) => Promise<string[]>>();

async function releaseHeldNow(ctx: StoreContext, tenant: string): Promise<string[]> {
  // Most calls (a job's end relay) find nothing held: one read of the held jobs says so, without the tenant's
  // limits and the count of its sent jobs (two reads that matter only when there is a job to release).
  if ((await oldestHeld(ctx, tenant, 1)).length === 0) return [];
  const { parallelJobs } = await tenantLimits(ctx, tenant);
  const released: string[] = [];
  // Ids tried once are skipped: a stale index page could offer a job already dispatched again and again.
  const tried = new Set<string>();
  for (;;) {
    const free = parallelJobs - (await countActive(ctx, tenant, 'sent'));
    if (free <= 0) return released;
    const candidates = (await oldestHeld(ctx, tenant, free + tried.size)).filter((job) => !tried.has(job.id));
    if (candidates.length === 0) return released;
    let lostOne = false;
    for (const job of candidates.slice(0, free)) {
      tried.add(job.id);
      await sendJobMessage(ctx, job);
      if (!(await ctx.jobs.apply(jobTransitions.dispatch(job, ctx.now())))) {
        // Released by another caller, claimed, canceled or expired meanwhile: the free slots may have changed.
        lostOne = true;
        break;
      }
      released.push(job.id);
    }
    if (!lostOne) return released;
  }
}

/**
 * `releaseHeld` where a new job found a free slot while older ones of its tenant are held: best effort, since
 * the new job is accepted whatever happens here; a failure is logged and the sweeper releases them.
 */
export async function releaseHeldOrLog(
  ctx: StoreContext,
  tenant: string,
  log: Logger = ctx.log,
): Promise<void> {
  try {
    await releaseHeld(ctx, tenant);
  } catch (error) {
    log.warn('releasing held jobs failed; the sweeper will', { tenant, ...describeError(error) });
  }
}

/**
 * Where a queued job stands among its tenant's active jobs (gsi2, one Query of the tenant's partition reading
 * three small attributes of each; at most `maxActiveJobs` items): its queued jobs ahead of it, in dispatch order
 * (a sent job behind the sent ones created before it; a held one behind every sent one and the held ones
 * before it), and its running jobs. Eventually consistent, like every gsi2 count: an estimate's input.
 */
export async function queueStanding(
  ctx: StoreContext,
  job: Pick<JobItem, 'id' | 'tenant' | 'createdAt' | 'dispatch'>,
): Promise<{ ahead: number; running: number }> {
  const mine = dbKeys.activeJob(job.tenant, job.dispatch ?? 'sent', job.createdAt, job.id).gsi2sk;
  const held = (sk: string) => sk.startsWith(dbKeys.activePrefix.held);
  let ahead = 0;
  let running = 0;
  const pages = activePages(ctx, job.tenant, undefined, {
    ProjectionExpression: '#status, gsi2sk',
    ExpressionAttributeNames: { '#status': 'status' },
  });
  for await (const page of pages) {
    for (const item of page.Items ?? []) {
      const sk = String(item['gsi2sk']);
      if (item['status'] === 'running') running++;
      else if (item['status'] === 'queued' && sk !== mine) {
        const before = held(sk) === held(mine) ? sk < mine : held(mine);
        if (before) ahead++;
      }
    }
  }
  return { ahead, running };
}

/** Counts a tenant's active jobs (all, or the sent ones) in gsi2, page by page (Select COUNT reads no items). */
async function countActive(ctx: StoreContext, tenant: string, only?: 'sent'): Promise<number> {
  let count = 0;
  for await (const page of activePages(ctx, tenant, only, { Select: 'COUNT' })) count += page.Count ?? 0;
  return count;
}

/** Every page of one gsi2 Query of a tenant's active jobs (all, or the sent or held ones). */
function activePages(
  ctx: StoreContext,
  tenant: string,
  only: 'sent' | 'held' | undefined,
  read: Pick<QueryCommandInput, 'Select' | 'ProjectionExpression' | 'ExpressionAttributeNames'>,
): AsyncGenerator<QueryCommandOutput> {
  return paginateQuery(
    { client: ctx.db },
    { TableName: ctx.table, IndexName: GSI2, ...activeKeyCondition(tenant, only), ...read },
  );
}

/** The oldest `limit` held jobs of a tenant (their ids and what dispatch needs). */
async function oldestHeld(
  ctx: StoreContext,
  tenant: string,
  limit: number,
): Promise<Pick<JobItem, 'id' | 'tenant' | 'createdAt'>[]> {
  const { Items = [] } = await ctx.db.send(
    new QueryCommand({
      TableName: ctx.table,
      IndexName: GSI2,
      ...activeKeyCondition(tenant, 'held'),
      ScanIndexForward: true,
      Limit: limit,
      ProjectionExpression: '#id, #tenant, #createdAt',
      ExpressionAttributeNames: { '#id': 'id', '#tenant': 'tenant', '#createdAt': 'createdAt' },
    }),
  );
  return Items as Pick<JobItem, 'id' | 'tenant' | 'createdAt'>[];
}

/** A tenant's gsi2 partition, or only its sent or held jobs (sort-key prefix). */
function activeKeyCondition(tenant: string, only?: 'sent' | 'held') {
  return {
    KeyConditionExpression: only ? 'gsi2pk = :pk AND begins_with(gsi2sk, :prefix)' : 'gsi2pk = :pk',
    ExpressionAttributeValues: {
      ':pk': dbKeys.tenantActivePartition(tenant),
      ...(only ? { ':prefix': dbKeys.activePrefix[only] } : {}),
    },
  };
}
