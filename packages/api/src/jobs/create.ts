import { DeleteObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
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
 * POST /v1/jobs: the Idempotency-Key first, claimed by a conditional put and read only when that put fails (a
 * replay answers the earlier job, whatever the limits say now; a claimed key is released by any failure below);
 * then check and resolve the request within the caller's plan (plan.ts), admit it within the tenant's limits
 * (admission.ts) while its inline images are stored, put the job item (conditional, with the price it is
 * accepted at and its dispatch), then send its message if it was sent rather than held (and start the worker
 * fleet if it has no task, fleet.ts).
 *
 * Inline images are written in parallel with the admission, not with the item: the item is put only once every
 * input it names is stored, so no job (nor a crash anywhere in here) ever points at a missing input. A request
 * admission refuses has stored its images for nothing: they are deleted (best effort; the bucket's retention
 * removes any left, and no job names them).
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
  const { tenant } = caller;
  const now = deps.now();
  const jobId = newId('job', now.getTime());
  if (!idempotencyKey) return createClaimed(deps, caller, req, jobId, now);

  const hash = requestHash(body);
  for (let round = 0; round < 2; round++) {
    if (await claimKey(deps, tenant, idempotencyKey, hash, jobId)) {
      try {
        return await createClaimed(deps, caller, req, jobId, now);
      } catch (err) {
        // The retry the error asks for must create a job, not replay one that was never created.
        await releaseKey(deps, tenant, idempotencyKey, jobId);
        throw err;
      }
    }
    const earlier = await findReplay(deps, tenant, idempotencyKey, hash);
    if (earlier) return replay(deps, earlier);
    // Released or expired between the put and the read: claim it again, once.
  }
  throw inProgress();
}

/** The job of a request whose Idempotency-Key (if any) names `jobId`: checks, inputs, item, message. */
async function createClaimed(
  deps: Deps,
  caller: Pick<Caller, 'tenant' | 'limits'>,
  req: CreateJobRequest,
  jobId: string,
  now: Date,
): Promise<CreateOutcome> {
  const { tenant, limits } = caller;
  const plan = await planJob(deps, tenant, jobId, req, limits);
  // The SSRF guard (400 invalid_webhook); every delivery checks the URL again.
  if (req.webhook) {
    await checkWebhookUrl(req.webhook.url, { allowLoopback: deps.config.OBELM_WEBHOOK_ALLOW_LOOPBACK });
  }
  const inline = plan.inputs.flatMap(({ input, inline }) =>
    inline ? [{ key: input.key, body: inline }] : [],
  );
  const stored = Promise.all(inline.map((object) => putObject(deps, object.key, object.body)));
  let admission: Awaited<ReturnType<typeof admitJob>>;
  try {
    [admission] = await Promise.all([admitJob(deps, tenant, limits, now), stored]);
  } catch (err) {
    // Nothing names these objects (no item was put): gone, as far as a best effort goes.
    await stored.catch(() => undefined);
    await Promise.all(inline.map((object) => deleteObject(deps, object.key)));
    throw err;
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
  await putNewJob(deps, job);

  if (job.dispatch === 'sent') await sendOrFail(deps, job);
  // A slot is free but older jobs of the tenant are held: they go first.
  else if (admission.fillFreeSlot) await releaseHeldOrLog(deps.store, tenant, apiLog);
  // An empty fleet starts now rather than when the backlog alarm sees the message, minutes later.
  await deps.fleet?.nudge();
  return { job, replayed: false };
}

const putObject = (deps: Deps, key: string, body: Uint8Array) =>
  deps.s3.send(new PutObjectCommand({ Bucket: deps.config.OBELM_BUCKET, Key: key, Body: body }));

const deleteObject = (deps: Deps, key: string) =>
  deps.s3
    .send(new DeleteObjectCommand({ Bucket: deps.config.OBELM_BUCKET, Key: key }))
    .catch((err) => apiLog.warn('could not delete an unused inline input', { key, ...describeError(err) }));

/** A sent job's message; without one, the job fails at once (`enqueue_failed`) and the caller gets a 503. */
async function sendOrFail(deps: Deps, job: JobItem): Promise<void> {
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
    throw new ApiError(503, 'queue_unavailable', 'The job could not be queued; retry the request', { jobId });
  }
}
