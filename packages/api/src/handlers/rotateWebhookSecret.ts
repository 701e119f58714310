import { rotateTenantWebhookSecret } from '@obelm/store';
import { type DepsProvider, lambdaDepsProvider } from '../deps.ts';
import { authedRoute } from '../handler.ts';
import { json } from '../http.ts';
import { SECRET_HEADERS } from './getWebhookSecret.ts';

/**
 * POST /v1/webhooks/secret/rotate -> a new signing secret, and the one it replaced, which keeps signing every
 * delivery (both signatures sent) until `previous.expiresAt` (core WEBHOOK_SECRET_GRACE_MS). A secret replaced
 * by an earlier rotation stops signing at once.
 */
export const buildRotateWebhookSecret = (deps: DepsProvider) =>
  authedRoute(deps, async (_event, caller, d) =>
    json(200, await rotateTenantWebhookSecret(d.store, d.sealer, caller.tenant, d.now()), SECRET_HEADERS),
  );

export const handler = buildRotateWebhookSecret(lambdaDepsProvider);
