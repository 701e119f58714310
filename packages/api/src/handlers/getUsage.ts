import { summarizeUsage, UsageQuerySchema, usageMonth } from '@obelm/core';
import { monthUsage } from '@obelm/store';
import { type DepsProvider, lambdaDepsProvider } from '../deps.ts';
import { authedRoute } from '../handler.ts';
import { json } from '../http.ts';
import { parseWith } from '../validation.ts';

/**
 * GET /v1/usage[?month=YYYY-MM] -> the caller's usage in a calendar month (UTC; this month by default): the sum
 * of its usage entries, one per job that ended in it (store outbox.ts), in total and by model, kind and status.
 * Amounts are in the stage's currency (its price table's).
 */
export const buildGetUsage = (deps: DepsProvider) =>
  authedRoute(deps, async (event, caller, d) => {
    const query = parseWith(UsageQuerySchema, event.queryStringParameters ?? {});
    const month = query.month ?? usageMonth(d.now());
    const entries = await monthUsage(d.store, caller.tenant, month);
    return json(200, summarizeUsage(month, d.config.OBELM_PRICES.currency, entries));
  });

export const handler = buildGetUsage(lambdaDepsProvider);
