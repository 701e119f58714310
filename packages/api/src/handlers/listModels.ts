import { type ModelList, priceOf } from '@obelm/core';
import { type DepsProvider, lambdaDepsProvider } from '../deps.ts';
import { authedRoute } from '../handler.ts';
import { json } from '../http.ts';

/** GET /v1/models -> the models the caller's tenant may use, with their limits, defaults and the stage's price. */
export const buildListModels = (deps: DepsProvider) =>
  authedRoute(deps, async (_event, caller, d) => {
    // Who else may use a model is not the caller's business.
    const models = (await d.catalog.list(caller.tenant)).map(({ tenants: _, ...model }) => ({
      ...model,
      price: priceOf(d.config.OBELM_PRICES, model.id),
    }));
    return json(200, { models } satisfies ModelList);
  });

export const handler = buildListModels(lambdaDepsProvider);
