import { DeleteObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { conflict, isTerminal, type JobItem, jobTransitions, s3Keys, type TerminalStatus } from '@obelm/core';
import { type Deps, type DepsProvider, lambdaDepsProvider } from '../deps.ts';
import { authedRoute } from '../handler.ts';
import { json } from '../http.ts';
import { applyTransition, getTenantJob } from '../jobs/store.ts';
import { toJobView } from '../jobs/view.ts';
import { jobIdParam } from './getJob.ts';

/**
 * DELETE /v1/jobs/{id}: deletes an ended job's data now, before the stage's retention would: every object under
 * the job's folder (inline inputs, outputs, noise, report.json, checkpoints), then marks the item a tombstone
 * (`jobTransitions.deleteData`: params, end and billing stay; its usage entry is a separate item and stays too).
 * Images the job took by `uploadId` are the caller's uploads, not the job's: they live under `uploads/`, may feed
 * other jobs, and expire a day after upload on their own. A job still queued or running is 409 `job_active`
 * (cancel it first); another tenant's is 404. Idempotent: a second DELETE lists the folder again (anything a
 * late writer left goes too) and answers the same tombstone.
 */
export const buildDeleteJob = (deps: DepsProvider) =>
  authedRoute(deps, async (event, caller, d) => {
    const jobId = jobIdParam(event);
    const job = await getTenantJob(d, caller.tenant, jobId);
    if (!isTerminal(job.status)) {
      throw conflict('job_active', `Job '${jobId}' is ${job.status}: cancel it first`, {
        status: job.status,
      });
    }
    await deleteFolder(d, s3Keys.jobPrefix(job.tenant, job.id));
    return json(200, await toJobView(d, await tombstone(d, job)));
  });

/** The job marked deleted; a repeated DELETE keeps the first `deletedAt`. */
async function tombstone(d: Deps, job: JobItem): Promise<JobItem> {
  if (job.deletedAt) return job;
  const status = job.status as TerminalStatus; // ended: checked by the caller, and an end is final
  const marked = await applyTransition(d, jobTransitions.deleteData(job.id, status, d.now()));
  // Only an item gone meanwhile (its TTL) fails the condition: read again, which answers 404.
  return marked ?? getTenantJob(d, job.tenant, job.id);
}

/** Deletes every object under `prefix`, a listing page at a time. */
async function deleteFolder(d: Deps, prefix: string): Promise<void> {
  const Bucket = d.config.OBELM_BUCKET;
  let ContinuationToken: string | undefined;
  do {
    const page = await d.s3.send(new ListObjectsV2Command({ Bucket, Prefix: prefix, ContinuationToken }));
    await Promise.all(
      (page.Contents ?? []).map(({ Key }) => d.s3.send(new DeleteObjectCommand({ Bucket, Key }))),
    );
    ContinuationToken = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (ContinuationToken);
}

export const handler = buildDeleteJob(lambdaDepsProvider);
