import { closeTenantBatch } from '../batches/close.ts';
import { batchIdParam } from '../batches/lookup.ts';
import { toBatchView } from '../batches/view.ts';
import { type DepsProvider, lambdaDepsProvider } from '../deps.ts';
import { authedRoute } from '../handler.ts';
import { json } from '../http.ts';

/** POST /v1/batches/{id}/close -> 200 with the batch, closed (or completed, if every job had ended). */
export const buildCloseBatch = (deps: DepsProvider) =>
  authedRoute(deps, async (event, caller, d) => {
    const batch = await closeTenantBatch(d, caller.tenant, batchIdParam(event));
    return json(200, await toBatchView(d, batch));
  });

export const handler = buildCloseBatch(lambdaDepsProvider);
