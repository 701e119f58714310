import { batchIdParam, getTenantBatch } from '../batches/lookup.ts';
import { toBatchView } from '../batches/view.ts';
import { type DepsProvider, lambdaDepsProvider } from '../deps.ts';
import { authedRoute } from '../handler.ts';
import { json } from '../http.ts';

/** GET /v1/batches/{id} -> the batch: its jobs by status and, once complete, a link to summary.json. */
export const buildGetBatch = (deps: DepsProvider) =>
  authedRoute(deps, async (event, caller, d) => {
    const batch = await getTenantBatch(d, caller.tenant, batchIdParam(event));
    return json(200, await toBatchView(d, batch));
  });

export const handler = buildGetBatch(lambdaDepsProvider);
