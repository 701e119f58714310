import { PutObjectCommand } from '@aws-sdk/client-s3';
import { ApiError, type CreateJobRequest, conflict, describeError, type JobItem, newId } from '@obelm/core';
import { relayEndOrLog, releaseHeldOrLog, sendJobMessage } from '@obelm/store';
import type { Deps } from '../deps.ts';
import { apiLog } from '../log.ts';
import type { Caller } from '../middleware/auth.ts';
import { checkWebhookUrl } from '../webhooks/guard.ts';
import { admitJob } from './admission.ts';
import { claimKey, findReplay, releaseKey, requestHash } from './idempotency.ts';
import { planJob } from './plan.ts';
import { acceptedJob, failQueuedJob, getJob, putNewJob } from './store.ts';

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
 * POST /v1/jobs: an Idempotency-Key replay first (it answers the earlier job, whatever the limits say now);
 * then check and resolve the request within the caller's plan (plan.ts), admit it within the tenant's limits
 * (admission.ts), claim the Idempotency-Key, store inline images, put the job item (conditional, with the
 * price it is accepted at and its dispatch), then send its message if it was sent rather than held (and start
 * the worker fleet if it has no task, fleet.ts). Nothing is written before every check has passed.
 *
 * If SendMessage fails, the job is marked failed (`enqueue_failed`) and the caller gets a 503: a sent job
 * always has a message, and the client may simply retry. (The sweeper's lost-message rule still covers
 * messages lost later, e.g. the local stack's in-memory queue across restarts.)
 */
export async function createJob(
  deps: Deps,
  caller: Pick<Caller, 'tenant' | 'limits'>,
  body: unknown,
  req: CreateJobRequest,
  idempotencyKey: string | undefined,
): Promise<CreateOutcome> {
  const { tenant, limits } = caller;
  const hash = idempotencyKey ? requestHash(body) : '';
  if (idempotencyKey) {
    const earlier = await findReplay(deps, tenant, idempotencyKey, hash);
    if (earlier) return replay(deps, earlier);
  }

  const now = deps.now();
  const jobId = newId('job', now.getTime());
  const plan = await planJob(deps, tenant, jobId, req, limits);
  // The SSRF guard (400 invalid_webhook); every delivery checks the URL again.
  if (req.webhook) {
    await checkWebhookUrl(req.webhook.url, { allowLoopback: deps.config.OBELM_WEBHOOK_ALLOW_LOOPBACK });
  }
  const admission = await admitJob(deps, tenant, limits, now);

  if (idempotencyKey && !(await claimKey(deps, tenant, idempotencyKey, hash, jobId))) {
    const earlier = await findReplay(deps, tenant, idempotencyKey, hash);
    if (earlier) return replay(deps, earlier);
    // Released or expired between the two reads: a job is created only under a key that names it.
    if (!(await claimKey(deps, tenant, idempotencyKey, hash, jobId))) throw inProgress();
  }

  const job = acceptedJob(
    deps,
    {
      id: jobId,
      tenant,
      params: plan.params,
      inputs: plan.inputs.map((i) => i.input),
      metadata: req.metadata,
      webhook: req.webhook,
      dispatch: admission.dispatch,
    },
    now,
  );
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

  if (job.dispatch === 'sent') await sendOrFail(deps, job, idempotencyKey);
  // A slot is free but older jobs of the tenant are held: they go first.
  else if (admission.fillFreeSlot) await releaseHeldOrLog(deps.store, tenant, apiLog);
  // An empty fleet starts now rather than when the backlog alarm sees the message, minutes later.
  await deps.fleet?.nudge();
  return { job, replayed: false };
}

/** A sent job's message; without one, the job fails at once (`enqueue_failed`) and the caller gets a 503. */
async function sendOrFail(deps: Deps, job: JobItem, idempotencyKey: string | undefined): Promise<void> {
  const { id: jobId, tenant } = job;
  try {
    await sendJobMessage(deps.store, job);
  } catch (err) {
    apiLog.error('enqueue failed', { jobId, tenant, ...describeError(err) });
    const failed = await failQueuedJob(deps, job, {
      code: 'enqueue_failed',
      message: 'The job could not be queued',
    });
    // Its usage entry (nothing billed) and its dispatch slot to the next held job; the sweeper if this fails.
    if (failed) await relayEndOrLog(deps.store, failed, apiLog);
    // The retry the 503 asks for must create a job, not replay this one that never ran.
    if (idempotencyKey) await releaseKey(deps, tenant, idempotencyKey, jobId);
    throw new ApiError(503, 'queue_unavailable', 'The job could not be queued; retry the request', { jobId });
  }
}
