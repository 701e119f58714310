import { ListJobsQuerySchema } from '@obelm/core';
import { type DepsProvider, lambdaDepsProvider } from '../deps.ts';
import { authedRoute } from '../handler.ts';
import { json } from '../http.ts';
import { listJobs } from '../jobs/list.ts';
import { toJobView } from '../jobs/view.ts';
import { parseWith } from '../validation.ts';

/** GET /v1/jobs?status=&batch=&limit=&cursor= -> the caller's jobs, newest first (or one batch's). */
export const buildListJobs = (deps: DepsProvider) =>
  authedRoute(deps, async (event, caller, d) => {
    const query = parseWith(ListJobsQuerySchema, event.queryStringParameters ?? {});
    const page = await listJobs(d, caller.tenant, query);
    const jobs = await Promise.all(page.jobs.map((job) => toJobView(d, job)));
    return json(200, { jobs, ...(page.nextCursor ? { nextCursor: page.nextCursor } : {}) });
  });

export const handler = buildListJobs(lambdaDepsProvider);
