import { Webhook } from 'standardwebhooks';

export type SignatureHeaders = Record<'webhook-id' | 'webhook-timestamp' | 'webhook-signature', string>;

/**
 * The Standard Webhooks headers of one attempt: the event's id (stable across retries), when it was signed
 * (Unix seconds) and one `v1,<base64 HMAC-SHA256>` per secret, space-separated (during a rotation both the new
 * and the old secret sign, so a receiver verifies with either). Signed by the `standardwebhooks` package, the
 * one receivers verify with.
 */
export function signatureHeaders(
  secrets: readonly string[],
  id: string,
  at: Date,
  body: string,
): SignatureHeaders {
  if (secrets.length === 0) throw new TypeError('a webhook is signed with at least one secret');
  return {
    'webhook-id': id,
    'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
    'webhook-signature': secrets.map((secret) => new Webhook(secret).sign(id, at, body)).join(' '),
  };
}
