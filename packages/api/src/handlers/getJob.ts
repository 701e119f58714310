import { IdSchema, notFound } from '@obelm/core';
import { type DepsProvider, lambdaDepsProvider } from '../deps.ts';
import { authedRoute } from '../handler.ts';
import { type HttpEvent, json } from '../http.ts';
import { getTenantJob } from '../jobs/store.ts';
import { toJobView } from '../jobs/view.ts';

/** The `{id}` path parameter; a malformed id cannot name a job, so it is a 404 like any unknown one. */
export function jobIdParam(event: HttpEvent): string {
  const id = event.pathParameters?.['id'] ?? '';
  if (!IdSchema.safeParse(id).success) throw notFound('job_not_found', `No job '${id}'`);
  return id;
}

/** GET /v1/jobs/{id} -> the job with fresh presigned output URLs. */
export const buildGetJob = (deps: DepsProvider) =>
  authedRoute(deps, async (event, caller, d) => {
    const job = await getTenantJob(d, caller.tenant, jobIdParam(event));
    return json(200, await toJobView(d, job));
  });

export const handler = buildGetJob(lambdaDepsProvider);
