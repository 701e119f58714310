import { CreateJobRequestSchema } from '@obelm/core';
import { type DepsProvider, lambdaDepsProvider } from '../deps.ts';
import { authedRoute } from '../handler.ts';
import { header, json } from '../http.ts';
import { createJob } from '../jobs/create.ts';
import { checkIdempotencyKey } from '../jobs/idempotency.ts';
import { toJobView } from '../jobs/view.ts';
import { parseWith, readJsonBody } from '../validation.ts';

/** POST /v1/jobs -> 202 with the new job (200 with the original on an Idempotency-Key replay). */
export const buildCreateJob = (deps: DepsProvider) =>
  authedRoute(deps, async (event, caller, d) => {
    const idempotencyKey = checkIdempotencyKey(header(event, 'idempotency-key'));
    const body = readJsonBody(event);
    const req = parseWith(CreateJobRequestSchema, body);
    const { job, replayed } = await createJob(d, caller, body, req, idempotencyKey);
    return json(replayed ? 200 : 202, await toJobView(d, job), {
      location: `/v1/jobs/${job.id}`,
      ...(replayed ? { 'idempotent-replayed': 'true' } : {}),
    });
  });

export const handler = buildCreateJob(lambdaDepsProvider);
