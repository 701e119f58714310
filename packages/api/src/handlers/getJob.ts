import { GetJobQuerySchema, IdSchema, isTerminal, notFound } from '@obelm/core';
import { type Deps, type DepsProvider, lambdaDepsProvider } from '../deps.ts';
import { authedRoute } from '../handler.ts';
import { type HttpEvent, json } from '../http.ts';
import { estimateJob } from '../jobs/eta.ts';
import { getTenantJob } from '../jobs/store.ts';
import { toJobView } from '../jobs/view.ts';
import { type WaitedJob, waitForJob } from '../jobs/wait.ts';
import { parseWith } from '../validation.ts';

/** Time kept back from a long-poll for the final read and the response, before the Lambda's own limit. */
const RESPONSE_RESERVE_MS = 1000;

/** The `{id}` path parameter; a malformed id cannot name a job, so it is a 404 like any unknown one. */
export function jobIdParam(event: HttpEvent): string {
  const id = event.pathParameters?.['id'] ?? '';
  if (!IdSchema.safeParse(id).success) throw notFound('job_not_found', `No job '${id}'`, { jobId: id });
  return id;
}

/**
 * GET /v1/jobs/{id}[?wait=seconds] -> the job with fresh presigned output URLs and, while it is not done, its
 * queue place or finish estimate; with `wait`, once it is finished or the wait (cut short to fit the function's
 * time limit) is over.
 */
export const buildGetJob = (deps: DepsProvider) =>
  authedRoute(deps, async (event, caller, d, context) => {
    const id = jobIdParam(event);
    const { wait } = parseWith(GetJobQuerySchema, event.queryStringParameters ?? {});
    const waitMs = Math.min((wait ?? 0) * 1000, context.getRemainingTimeInMillis() - RESPONSE_RESERVE_MS);
    const { job, estimate } =
      waitMs > 0 ? await waitForJob(d, caller.tenant, id, waitMs) : await current(d, caller.tenant, id);
    return json(200, await toJobView(d, job, estimate));
  });

/** The job as it is, with its queue place or finish estimate while it is not done. */
async function current(deps: Deps, tenant: string, id: string): Promise<WaitedJob> {
  const job = await getTenantJob(deps, tenant, id);
  return isTerminal(job.status) ? { job } : { job, estimate: await estimateJob(deps, job) };
}

export const handler = buildGetJob(lambdaDepsProvider);
