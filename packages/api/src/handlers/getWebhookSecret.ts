import { tenantWebhookSecret } from '@obelm/store';
import { type DepsProvider, lambdaDepsProvider } from '../deps.ts';
import { authedRoute } from '../handler.ts';
import { json } from '../http.ts';

/** A secret in a response: no cache along the way may keep it. */
export const SECRET_HEADERS = { 'cache-control': 'no-store' };

/**
 * GET /v1/webhooks/secret -> the caller's webhook signing secret (`whsec_...`, Standard Webhooks), created on the
 * first call (store webhookSecrets.ts), and after a rotation the old one while it still signs.
 */
export const buildGetWebhookSecret = (deps: DepsProvider) =>
  authedRoute(deps, async (_event, caller, d) =>
    json(200, await tenantWebhookSecret(d.store, d.sealer, caller.tenant, d.now()), SECRET_HEADERS),
  );

export const handler = buildGetWebhookSecret(lambdaDepsProvider);
