import { PutObjectCommand } from '@aws-sdk/client-s3';
import {
  ApiError,
  type CreateJobRequest,
  conflict,
  describeError,
  type JobItem,
  newId,
  ttlAfter,
} from '@obelm/core';
import type { Deps } from '../deps.ts';
import { apiLog } from '../log.ts';
import { claimKey, findReplay, releaseKey, requestHash } from './idempotency.ts';
import { planJob } from './plan.ts';
import { enqueueJob } from './queue.ts';
import { failQueuedJob, getJob, putNewJob } from './store.ts';

export interface CreateOutcome {
  job: JobItem;
  /** True when an Idempotency-Key replay returned the job an earlier request created. */
  replayed: boolean;
}

const inProgress = () =>
  conflict('idempotency_in_progress', 'A request with this Idempotency-Key is still in progress', {
    header: 'Idempotency-Key',
  });

async function replay(deps: Deps, jobId: string): Promise<CreateOutcome> {
  const job = await getJob(deps, jobId);
  // The first request holds the key but has not written its job yet (or died doing so).
  if (!job) throw inProgress();
  return { job, replayed: true };
}

/**
 * POST /v1/jobs: check and resolve the request, claim the Idempotency-Key, store inline images, put the
 * job item (conditional), then enqueue its id (and start the worker fleet if it has no task, fleet.ts).
 *
 * If SendMessage fails, the job is marked failed (`enqueue_failed`) and the caller gets a 503: a queued job
 * always has a message, and the client may simply retry. (A sweeper that re-enqueues queued jobs, see
 * sweeper.ts, still covers messages lost later, e.g. the local stack's in-memory queue across restarts.)
 */
export async function createJob(
  deps: Deps,
  tenant: string,
  body: unknown,
  req: CreateJobRequest,
  idempotencyKey: string | undefined,
): Promise<CreateOutcome> {
  const hash = idempotencyKey ? requestHash(body) : '';
  if (idempotencyKey) {
    const earlier = await findReplay(deps, tenant, idempotencyKey, hash);
    if (earlier) return replay(deps, earlier);
  }

  const now = deps.now();
  const jobId = newId('job', now.getTime());
  const plan = await planJob(deps, tenant, jobId, req);

  if (idempotencyKey && !(await claimKey(deps, tenant, idempotencyKey, hash, jobId))) {
    const earlier = await findReplay(deps, tenant, idempotencyKey, hash);
    if (earlier) return replay(deps, earlier);
    // Released or expired between the two reads: a job is created only under a key that names it.
    if (!(await claimKey(deps, tenant, idempotencyKey, hash, jobId))) throw inProgress();
  }

  const job: JobItem = {
    id: jobId,
    tenant,
    status: 'queued',
    params: plan.params,
    inputs: plan.inputs.map((i) => i.input),
    ...(req.metadata ? { metadata: req.metadata } : {}),
    attempts: 0,
    createdAt: now.toISOString(),
    updatedAt: now.toISOString(),
    ttl: ttlAfter(now, deps.config.OBELM_JOB_TTL_SECONDS),
  };
  try {
    for (const { input, inline } of plan.inputs) {
      if (!inline) continue;
      await deps.s3.send(
        new PutObjectCommand({ Bucket: deps.config.OBELM_BUCKET, Key: input.key, Body: inline }),
      );
    }
    await putNewJob(deps, job);
  } catch (err) {
    if (idempotencyKey) await releaseKey(deps, tenant, idempotencyKey, jobId);
    throw err;
  }

  try {
    await enqueueJob(deps, job);
  } catch (err) {
    apiLog.error('enqueue failed', { jobId, tenant, ...describeError(err) });
    await failQueuedJob(deps, jobId, { code: 'enqueue_failed', message: 'The job could not be queued' });
    // The retry the 503 asks for must create a job, not replay this one that never ran.
    if (idempotencyKey) await releaseKey(deps, tenant, idempotencyKey, jobId);
    throw new ApiError(503, 'queue_unavailable', 'The job could not be queued; retry the request', { jobId });
  }
  // An empty fleet starts now rather than when the backlog alarm sees the message, minutes later.
  await deps.fleet?.nudge();
  return { job, replayed: false };
}
