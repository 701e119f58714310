import type { JobBilling } from './billing.ts';
import type {
  JobCheckpoint,
  JobDispatch,
  JobError,
  JobItem,
  JobMetrics,
  JobOutputs,
  JobProgress,
  JobStatus,
} from './jobs.ts';
import { dbKeys } from './keys.ts';
import { canTransition } from './state.ts';

/**
 * Every write that changes a job item, as a pure builder: the API, the sweeper and the worker send exactly these
 * (through their DynamoDB document client), so a transition has one condition, wherever it runs. Each builder
 * names its `from` and `to` status and is checked against the state machine (state.ts) when it is built; the
 * condition on `from` (and, once claimed, on the owning worker) makes the transition atomic.
 *
 * The terminal transitions record the job's end event in the same conditional update (an outbox): a crash after
 * the update cannot lose the event, and a retried update cannot write a second one (its condition fails).
 * Whatever must follow a job's end (usage, releasing held jobs, webhooks) reads `endEvent`, keyed by its stable
 * id, while `outboxPending` is set (store outbox.ts); the end also records what it bills (`billing`), so a job
 * that ended is never left unbilled and is never billed twice.
 */

/** An UpdateItem request without its table: `{ TableName, ReturnValues: 'ALL_NEW', ...update }`. */
export interface JobUpdate {
  readonly from: JobStatus;
  readonly to: JobStatus;
  readonly Key: { pk: string; sk: string };
  readonly UpdateExpression: string;
  readonly ConditionExpression: string;
  readonly ExpressionAttributeNames: Record<string, string>;
  readonly ExpressionAttributeValues: Record<string, unknown>;
}

/** A PutItem request without its table, for a new job. */
export interface JobPut {
  readonly Item: Record<string, unknown>;
  readonly ConditionExpression: string;
}

export const TERMINAL_EVENT_TYPES = {
  succeeded: 'job.succeeded',
  failed: 'job.failed',
  canceled: 'job.canceled',
  expired: 'job.expired',
} as const;
export type TerminalStatus = keyof typeof TERMINAL_EVENT_TYPES;

/** The event a job's end records with it; `id` is stable, whatever is retried (e.g. a webhook-id). */
export interface JobEndEvent {
  id: string;
  type: (typeof TERMINAL_EVENT_TYPES)[TerminalStatus];
  at: string;
}

/** The one id of a job's end event: a job ends once, so its id and final status name it. */
export const endEventId = (jobId: string, status: TerminalStatus): string => `evt_${jobId}_${status}`;

/** Who must hold the job for the write to apply. */
export type Holder = { status: 'queued' } | { status: 'running'; workerId: string };

interface Spec {
  from: JobStatus;
  to: JobStatus;
  /** Running jobs: only the worker that owns the job may write. */
  workerId?: string;
  /** Stale-job recovery: the heartbeat the caller saw must still be there (null: none was ever written). */
  heartbeatAt?: string | null;
  /** Further attributes that must hold these values. */
  when?: Record<string, unknown>;
  /** Further attributes that must exist. */
  whenExists?: readonly string[];
  /** Further attributes that must not exist. */
  whenAbsent?: readonly string[];
  /** Numeric attributes that must be at least / below these values. */
  atLeast?: Record<string, number>;
  below?: Record<string, number>;
  set?: Record<string, unknown>;
  /** Set only where absent (the first claim's startedAt). */
  setIfAbsent?: Record<string, unknown>;
  add?: Record<string, number>;
  remove?: readonly string[];
}

/** Builds the update expression of a transition; every attribute goes through a #name (DynamoDB reserves many). */
function build(jobId: string, spec: Spec): JobUpdate {
  if (spec.from !== spec.to && !canTransition(spec.from, spec.to)) {
    throw new Error(`job ${jobId}: ${spec.from} -> ${spec.to} is not a transition of the state machine`);
  }
  const names: Record<string, string> = { '#pk': 'pk', '#status': 'status' };
  const values: Record<string, unknown> = { ':from': spec.from };
  const name = (attr: string) => {
    names[`#${attr}`] = attr;
    return `#${attr}`;
  };
  const value = (attr: string, v: unknown) => {
    values[`:${attr}`] = v;
    return `:${attr}`;
  };

  const conditions = ['attribute_exists(#pk)', '#status = :from'];
  if (spec.workerId !== undefined) conditions.push(`${name('workerId')} = ${value('owner', spec.workerId)}`);
  if (spec.heartbeatAt === null) conditions.push(`attribute_not_exists(${name('heartbeatAt')})`);
  else if (spec.heartbeatAt !== undefined) {
    conditions.push(`${name('heartbeatAt')} = ${value('seenHeartbeat', spec.heartbeatAt)}`);
  }
  for (const [attr, v] of Object.entries(spec.when ?? {})) {
    conditions.push(`${name(attr)} = ${value(`when_${attr}`, v)}`);
  }
  for (const attr of spec.whenExists ?? []) conditions.push(`attribute_exists(${name(attr)})`);
  for (const attr of spec.whenAbsent ?? []) conditions.push(`attribute_not_exists(${name(attr)})`);
  for (const [attr, v] of Object.entries(spec.atLeast ?? {})) {
    conditions.push(`${name(attr)} >= ${value(`min_${attr}`, v)}`);
  }
  for (const [attr, v] of Object.entries(spec.below ?? {})) {
    conditions.push(`${name(attr)} < ${value(`max_${attr}`, v)}`);
  }

  const sets = Object.entries(spec.set ?? {})
    .filter(([, v]) => v !== undefined)
    .map(([attr, v]) => `${name(attr)} = ${value(attr, v)}`);
  if (spec.to !== spec.from) sets.unshift(`#status = ${value('to', spec.to)}`);
  for (const [attr, v] of Object.entries(spec.setIfAbsent ?? {})) {
    sets.push(`${name(attr)} = if_not_exists(${name(attr)}, ${value(attr, v)})`);
  }
  const clauses = sets.length ? [`SET ${sets.join(', ')}`] : [];
  const adds = Object.entries(spec.add ?? {}).map(([attr, n]) => `${name(attr)} ${value(attr, n)}`);
  if (adds.length) clauses.push(`ADD ${adds.join(', ')}`);
  if (spec.remove?.length) clauses.push(`REMOVE ${spec.remove.map(name).join(', ')}`);

  return {
    from: spec.from,
    to: spec.to,
    Key: dbKeys.job(jobId),
    UpdateExpression: clauses.join(' '),
    ConditionExpression: conditions.join(' AND '),
    ExpressionAttributeNames: names,
    ExpressionAttributeValues: values,
  };
}

/**
 * create: a new queued job item, only if the id is free, in its tenant's active index as sent (its message is
 * sent right after the put) or held (released later by store dispatch.ts). `job.dispatch` says which.
 */
function create(job: JobItem & { dispatch: JobDispatch }): JobPut {
  if (job.status !== 'queued') throw new Error(`job ${job.id}: a new job starts queued, not ${job.status}`);
  return {
    Item: {
      ...dbKeys.job(job.id),
      ...dbKeys.jobByTenant(job.tenant, job.createdAt, job.id),
      ...dbKeys.activeJob(job.tenant, job.dispatch, job.createdAt, job.id),
      ...(job.dispatch === 'sent' ? { enqueuedAt: job.createdAt } : {}),
      ...job,
    },
    ConditionExpression: 'attribute_not_exists(pk)',
  };
}

/**
 * dispatch: a held queued job takes one of its tenant's dispatch slots. Its message is sent just before (store
 * dispatch.ts): a crash between the two leaves a held job with a message, which its claim moves into a slot,
 * never a sent job without one.
 */
function dispatch(job: Pick<JobItem, 'id' | 'tenant' | 'createdAt'>, now: Date): JobUpdate {
  return build(job.id, {
    from: 'queued',
    to: 'queued',
    when: { dispatch: 'held' },
    set: {
      dispatch: 'sent',
      ...dbKeys.activeJob(job.tenant, 'sent', job.createdAt, job.id),
      enqueuedAt: now.toISOString(),
    },
  });
}

/**
 * claim: queued -> running by `workerId`: attempts + 1, heartbeat now; startedAt keeps the first claim's time,
 * claimedAt is this attempt's (the API measures a running job's step pace from it).
 * A running job holds a dispatch slot: a job still held (its message went out, then its dispatch was cut short
 * by a crash, or raced the claim) is counted as sent from here.
 */
function claim(job: Pick<JobItem, 'id' | 'tenant' | 'createdAt'>, workerId: string, now: Date): JobUpdate {
  const at = now.toISOString();
  return build(job.id, {
    from: 'queued',
    to: 'running',
    set: {
      workerId,
      heartbeatAt: at,
      claimedAt: at,
      updatedAt: at,
      dispatch: 'sent',
      ...dbKeys.activeJob(job.tenant, 'sent', job.createdAt, job.id),
    },
    setIfAbsent: { startedAt: at },
    add: { attempts: 1 },
  });
}

/**
 * claim a runnable job without reading it first (the common case, one write): the claim above, conditional on
 * everything that lets a queued job run, from the ids a jobs message carries: its tenant's, already sent (so
 * its dispatch keys stay as they are), not past its TTL, no cancel request, fewer than `maxAttempts` attempts.
 * When the condition fails, the caller reads the job and settles it (expire, cancel, fail, requeue a stale
 * run) or claims it with `claim` (a held job).
 */
function claimRunnable(
  job: Pick<JobItem, 'id' | 'tenant'>,
  workerId: string,
  now: Date,
  limits: { maxAttempts: number },
): JobUpdate {
  const at = now.toISOString();
  return build(job.id, {
    from: 'queued',
    to: 'running',
    when: { tenant: job.tenant, dispatch: 'sent' },
    // Expired when ttl * 1000 < now (the TTL is whole seconds), so runnable while ttl >= ceil(now / 1000).
    atLeast: { ttl: Math.ceil(now.getTime() / 1000) },
    whenAbsent: ['cancelRequested'],
    below: { attempts: limits.maxAttempts },
    set: { workerId, heartbeatAt: at, claimedAt: at, updatedAt: at },
    setIfAbsent: { startedAt: at },
    add: { attempts: 1 },
  });
}

/** progress: the owner's heartbeat, with the steps done (and when) when given. The item it returns shows `cancelRequested`. */
function progress(jobId: string, workerId: string, now: Date, steps?: JobProgress): JobUpdate {
  const at = now.toISOString();
  return build(jobId, {
    from: 'running',
    to: 'running',
    workerId,
    // progressAt: when the steps were counted, which a heartbeat alone does not move (the API's pace).
    set: { heartbeatAt: at, updatedAt: at, progress: steps, progressAt: steps ? at : undefined },
  });
}

/**
 * checkpoint: running -> queued after a graceful stop, with where to resume (without a new checkpoint, as when
 * stopped before the first step, an earlier one stays valid). The attempt is given back: being stopped (a spot
 * interruption, a deploy) is not the job's fault and must not count towards the crash limit.
 */
function checkpoint(
  jobId: string,
  workerId: string,
  now: Date,
  checkpoint: JobCheckpoint | undefined,
): JobUpdate {
  return build(jobId, {
    from: 'running',
    to: 'queued',
    workerId,
    // The worker makes its message visible again.
    set: { updatedAt: now.toISOString(), enqueuedAt: now.toISOString(), checkpoint },
    add: { attempts: -1 },
    remove: ['workerId', 'progress', 'progressAt'],
  });
}

/**
 * save checkpoint: a running job records where it can resume while it keeps running (periodic checkpoints), so
 * a worker that dies without a word (SIGKILL, a lost instance) costs only the steps since. Owner only.
 */
function saveCheckpoint(jobId: string, workerId: string, now: Date, checkpoint: JobCheckpoint): JobUpdate {
  const at = now.toISOString();
  return build(jobId, {
    from: 'running',
    to: 'running',
    workerId,
    set: { checkpoint, heartbeatAt: at, updatedAt: at },
  });
}

/**
 * requeue: running -> queued, the dead run's progress dropped. By the owner after an unexpected error (the
 * attempt stays counted, so a job that keeps crashing ends `too_many_attempts`), or by anyone who found the
 * job's heartbeat stale (`seenHeartbeatAt`: only if the heartbeat is still the stale one seen, so a worker that
 * is merely slow to write keeps its job; null when none was ever written).
 */
function requeue(
  jobId: string,
  now: Date,
  by: { workerId: string } | { seenHeartbeatAt: string | null },
): JobUpdate {
  return build(jobId, {
    from: 'running',
    to: 'queued',
    ...('workerId' in by ? { workerId: by.workerId } : { heartbeatAt: by.seenHeartbeatAt }),
    // The job's message is back in the queue: the owner's made visible, the sweeper's sent anew.
    set: { updatedAt: now.toISOString(), enqueuedAt: now.toISOString() },
    remove: ['workerId', 'progress', 'progressAt'],
  });
}

/**
 * resent: a queued job's message was sent again (the sweeper found it lost); records when, so the next sweep
 * gives the new message time to show in the queue's counts. Not a change the job's owner sees: updatedAt stays.
 */
function resent(jobId: string, now: Date): JobUpdate {
  return build(jobId, { from: 'queued', to: 'queued', set: { enqueuedAt: now.toISOString() } });
}

/** Whether a running job's worker has missed its heartbeats for longer than `staleAfterMs`. */
export function isStale(
  job: Pick<JobItem, 'heartbeatAt' | 'startedAt' | 'updatedAt'>,
  now: Date,
  staleAfterMs: number,
) {
  const lastSign = job.heartbeatAt ?? job.startedAt ?? job.updatedAt;
  return now.getTime() - Date.parse(lastSign) > staleAfterMs;
}

/** cancel request: a running job's worker sees the flag at its next heartbeat or progress write and stops. */
function requestCancel(jobId: string, now: Date): JobUpdate {
  return build(jobId, {
    from: 'running',
    to: 'running',
    set: { cancelRequested: true, updatedAt: now.toISOString() },
  });
}

type Ending = {
  /** Epoch seconds after which the ended item may be deleted (DynamoDB TTL). */
  ttl: number;
  /** What the end bills (billing.ts `billFor`): every end records it, zero included. */
  billing: JobBilling;
  error?: JobError;
  metrics?: JobMetrics;
};

/**
 * The one terminal write: status, end time, TTL, what the end carries and bills, and its event (the outbox);
 * the job leaves its tenant's active index and dispatch slot.
 */
function end(
  jobId: string,
  to: TerminalStatus,
  holder: Holder,
  now: Date,
  fields: Record<string, unknown>,
): JobUpdate {
  const at = now.toISOString();
  const event: JobEndEvent = { id: endEventId(jobId, to), type: TERMINAL_EVENT_TYPES[to], at };
  return build(jobId, {
    from: holder.status,
    to,
    ...(holder.status === 'running' ? { workerId: holder.workerId } : {}),
    set: { ...fields, finishedAt: at, updatedAt: at, endEvent: event, outboxPending: true },
    remove: ['checkpoint', 'dispatch', 'gsi2pk', 'gsi2sk'],
  });
}

/** outbox done: what follows the job's end has been done (store outbox.ts); once, whoever gets there first. */
function outboxDone(jobId: string, status: TerminalStatus): JobUpdate {
  return build(jobId, { from: status, to: status, whenExists: ['outboxPending'], remove: ['outboxPending'] });
}

/**
 * delete data: the caller deleted an ended job's inputs, outputs and checkpoints (DELETE /v1/jobs/{id}); the
 * item stays as a tombstone with its params, end and billing. Conditional on the status read, so a retry is a no-op.
 */
function deleteData(jobId: string, status: TerminalStatus, now: Date): JobUpdate {
  const at = now.toISOString();
  return build(jobId, {
    from: status,
    to: status,
    set: { deletedAt: at, updatedAt: at },
    // The input keys stay (they name deleted objects); outputs go, so the view shows none.
    remove: ['outputs'],
  });
}

/** succeed: running -> succeeded with outputs and metrics; a finished job shows its whole run as progress. */
function succeed(
  jobId: string,
  workerId: string,
  now: Date,
  result: Ending & { outputs: JobOutputs; metrics: JobMetrics; progress?: JobProgress },
): JobUpdate {
  return end(jobId, 'succeeded', { status: 'running', workerId }, now, result);
}

/** fail: queued -> failed (refused before it ran: too many attempts, not enqueued) or running -> failed. */
function fail(jobId: string, holder: Holder, now: Date, ending: Ending & { error: JobError }): JobUpdate {
  return end(jobId, 'failed', holder, now, ending);
}

/** cancel: a queued job at once (API, or a worker that finds the request), a running one by its worker. */
function cancel(jobId: string, holder: Holder, now: Date, ending: Ending): JobUpdate {
  return end(jobId, 'canceled', holder, now, ending);
}

/** expire: queued -> expired, for a job that waited past its TTL. */
function expire(jobId: string, now: Date, ending: Ending): JobUpdate {
  return end(jobId, 'expired', { status: 'queued' }, now, {
    ...ending,
    error: { code: 'expired', message: 'The job waited in the queue past its time to live' },
  });
}

/** Every job-item write, by transition name (state.ts has the machine they follow). */
export const jobTransitions = {
  create,
  dispatch,
  claim,
  claimRunnable,
  progress,
  checkpoint,
  saveCheckpoint,
  requeue,
  resent,
  requestCancel,
  succeed,
  fail,
  cancel,
  expire,
  outboxDone,
  deleteData,
} as const;

/** The error name both the AWS SDK and the stand-ins give a failed ConditionExpression. */
export const isConditionFailed = (err: unknown): boolean =>
  (err as Error | undefined)?.name === 'ConditionalCheckFailedException';
