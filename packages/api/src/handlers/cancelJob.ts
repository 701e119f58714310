import { conflict, endBilling, isTerminal, jobTransitions } from '@obelm/core';
import { relayEndOrLog } from '@obelm/store';
import { type DepsProvider, lambdaDepsProvider } from '../deps.ts';
import { authedRoute } from '../handler.ts';
import { json } from '../http.ts';
import { applyTransition, endedTtl, getTenantJob } from '../jobs/store.ts';
import { toJobView } from '../jobs/view.ts';
import { jobIdParam } from './getJob.ts';

/**
 * POST /v1/jobs/{id}/cancel: a queued job is canceled at once; a running one gets `cancelRequested` and its
 * worker stops at its next progress write; a finished one is 409 `job_finished`. Each step is conditional
 * on the status just read, so a job that starts or ends meanwhile is read again and handled as it now is.
 */
export const buildCancelJob = (deps: DepsProvider) =>
  authedRoute(deps, async (event, caller, d) => {
    const jobId = jobIdParam(event);
    for (let attempt = 0; attempt < 3; attempt++) {
      const job = await getTenantJob(d, caller.tenant, jobId);
      if (isTerminal(job.status)) {
        throw conflict('job_finished', `Job '${jobId}' already ${job.status}`, { status: job.status });
      }
      const update =
        job.status === 'queued'
          ? jobTransitions.cancel(jobId, { status: 'queued' }, d.now(), {
              ttl: endedTtl(d),
              // A job stopped and re-queued before this pays for the work its checkpoint holds.
              billing: endBilling(job, 'canceled', d.now(), job.checkpoint?.gpuMs),
            })
          : jobTransitions.requestCancel(jobId, d.now());
      const updated = await applyTransition(d, update);
      if (!updated) continue;
      // Canceled here (not just requested): its usage entry, and a held job of the tenant takes its slot.
      if (isTerminal(updated.status)) await relayEndOrLog(d.store, updated);
      return json(200, await toJobView(d, updated));
    }
    throw conflict('job_busy', `Job '${jobId}' changed state repeatedly; retry the cancel`, {
      jobId,
    });
  });

export const handler = buildCancelJob(lambdaDepsProvider);
