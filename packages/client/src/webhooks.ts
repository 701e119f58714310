import { Webhook } from 'standardwebhooks';
import { ObelmWebhookVerificationError } from './errors.ts';

/** Headers as a Headers object, or a plain record (Node's IncomingHttpHeaders fits; arrays take the first). */
export type WebhookHeaders = Headers | Record<string, string | string[] | undefined>;

/** The Standard Webhooks headers, by their lower-case names. */
function plainHeaders(headers: WebhookHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  if (headers instanceof Headers) {
    headers.forEach((value, name) => {
      out[name.toLowerCase()] = value;
    });
    return out;
  }
  for (const [name, value] of Object.entries(headers)) {
    const first = Array.isArray(value) ? value[0] : value;
    if (first !== undefined) out[name.toLowerCase()] = first;
  }
  return out;
}

/**
 * Checks a webhook delivery (Standard Webhooks: `webhook-id`, `webhook-timestamp`, `webhook-signature`) against
 * the signing secret (`whsec_...`, GET /v1/webhooks/secret) and returns the parsed event. `body` must be the raw
 * request body, byte for byte. Throws ObelmWebhookVerificationError on a bad or missing signature, or a
 * timestamp more than five minutes off.
 */
export function verifyWebhook<Event = unknown>(
  secret: string,
  headers: WebhookHeaders,
  body: string | Uint8Array,
): Event {
  const payload = typeof body === 'string' ? body : new TextDecoder().decode(body);
  try {
    return new Webhook(secret).verify(payload, plainHeaders(headers)) as Event;
  } catch (err) {
    throw new ObelmWebhookVerificationError(`Webhook not verified: ${(err as Error).message}`, {
      cause: err,
    });
  }
}
