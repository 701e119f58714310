import { z } from 'zod';

/**
 * Webhooks (Standard Webhooks): the events a caller can subscribe to, the delivery record, the queue message,
 * the retry schedule and the guard's limits. Built on the job's end (transitions.ts `endEvent`, the outbox):
 * the event id is the `webhook-id`, stable whatever is retried.
 */

export const JOB_WEBHOOK_EVENTS = ['job.succeeded', 'job.failed', 'job.canceled', 'job.expired'] as const;
export const WEBHOOK_EVENTS = [...JOB_WEBHOOK_EVENTS, 'batch.completed'] as const;
export type WebhookEventType = (typeof WEBHOOK_EVENTS)[number];

export const WebhookSpecSchema = z
  .strictObject({
    url: z
      .url()
      .max(2048)
      .describe(
        'Where events are POSTed: https (the local stack also allows http://127.0.0.1). Checked at creation ' +
          '(400 `invalid_webhook`) and again at each delivery: no private, loopback or link-local address.',
      ),
    events: z
      .array(z.enum(WEBHOOK_EVENTS))
      .min(1)
      .optional()
      .describe("The events to send; a job's four end events by default (a batch: `batch.completed`)."),
  })
  .describe('Where to send the events of this job or batch, signed per Standard Webhooks.');
export type WebhookSpec = z.output<typeof WebhookSpecSchema>;

/** The events a spec subscribes to, defaults applied. */
export const subscribedEvents = (spec: WebhookSpec, of: 'job' | 'batch'): readonly WebhookEventType[] =>
  spec.events ?? (of === 'job' ? JOB_WEBHOOK_EVENTS : ['batch.completed']);

/** One delivery attempt, as the job view shows it. */
export const WebhookAttemptSchema = z.strictObject({
  at: z.iso.datetime(),
  /** The receiver's HTTP status; absent when none came (timeout, refused connection, guard). */
  status: z.number().int().optional(),
  error: z.string().optional(),
  latencyMs: z.number().int(),
});
export type WebhookAttempt = z.output<typeof WebhookAttemptSchema>;

export const WEBHOOK_DELIVERY_STATUSES = ['pending', 'delivered', 'failed'] as const;

/** The delivery of one event, as the job (or batch) view shows it. */
export const WebhookDeliverySchema = z.strictObject({
  /** The `webhook-id` header: the event's id, the same on every attempt and redelivery. */
  id: z.string(),
  type: z.enum(WEBHOOK_EVENTS),
  url: z.string(),
  status: z.enum(WEBHOOK_DELIVERY_STATUSES),
  attempts: z.array(WebhookAttemptSchema),
  nextAttemptAt: z.iso.datetime().optional(),
});
export type WebhookDelivery = z.output<typeof WebhookDeliverySchema>;

/**
 * DynamoDB item of a delivery (`dbKeys.webhookDelivery(eventId)`), put once by the outbox relay (conditional on
 * its key): `subject` names the job or batch whose view is the event's `data`.
 */
export interface WebhookDeliveryItem extends WebhookDelivery {
  tenant: string;
  subject: { kind: 'job' | 'batch'; id: string };
  /** When the event happened (the body's `timestamp`). */
  occurredAt: string;
  /**
   * Attempts before the current schedule: a redelivery starts a new one (WEBHOOK_MAX_ATTEMPTS more) and keeps the
   * old attempts in the list. Absent: 0.
   */
  roundStart?: number;
  createdAt: string;
  updatedAt: string;
  /** Epoch seconds: the item goes with its subject's (DynamoDB TTL). */
  ttl?: number;
}

/** A webhooks-queue message: which delivery to attempt; `notBefore` chains delays past SQS's 15-minute cap. */
export const WebhookMessageSchema = z.strictObject({
  v: z.literal(1),
  eventId: z.string().min(1).max(200),
  notBefore: z.iso.datetime().optional(),
});
export type WebhookMessage = z.output<typeof WebhookMessageSchema>;

/** SQS's longest message delay. */
export const MAX_SQS_DELAY_SECONDS = 900;

/**
 * Attempts of one delivery before it is given up (status failed, message to the dead-letter queue). With the
 * schedule below, the 14 waits between them add up to 16-33 hours (base 117 090 s, jitter 0.5-1x): about a day.
 */
export const WEBHOOK_MAX_ATTEMPTS = 15;

/**
 * Seconds to wait after failed attempt `attempt` (1-based): exponential from 30 s, doubling, capped at 6 h, with
 * "full jitter" in the upper half (so retries of many receivers spread out). `random` in [0, 1).
 */
export function webhookRetryDelaySeconds(attempt: number, random: number = Math.random()): number {
  const base = Math.min(30 * 2 ** (attempt - 1), 6 * 3600);
  return Math.round(base / 2 + (base / 2) * random);
}

/** The body POSTed: the event type, when it happened, and the job (or batch) view as GET returns it. */
export interface WebhookEnvelope {
  type: WebhookEventType;
  timestamp: string;
  data: unknown;
}

/**
 * The KMS encryption context a signing secret is sealed under: the code passes it, and the key policy's grants
 * allow Encrypt and Decrypt only with it (infra/secrets.ts), so the key seals nothing else.
 */
export const WEBHOOK_SECRET_CONTEXT = { purpose: 'obelm-webhook-secret' } as const;

/** How long a rotated-out signing secret still signs (both signatures are sent meanwhile). */
export const WEBHOOK_SECRET_GRACE_MS = 24 * 3600 * 1000;

/** A tenant's signing secret as stored: sealed (KMS in the cloud, a local key locally), never in plain text. */
export interface StoredWebhookSecret {
  sealed: string;
  createdAt: string;
  /** Set on the old secret by a rotation: it signs until then. */
  expiresAt?: string;
}

export const WebhookSecretResponseSchema = z.strictObject({
  secret: z.string().describe('whsec_...: verify deliveries with it (Standard Webhooks).'),
  createdAt: z.iso.datetime(),
  previous: z
    .strictObject({ secret: z.string(), expiresAt: z.iso.datetime() })
    .optional()
    .describe('After a rotation: the old secret, which still signs every delivery until `expiresAt`.'),
});
export type WebhookSecretResponse = z.output<typeof WebhookSecretResponseSchema>;

/** The delivery guard's limits (SSRF): per attempt. */
export const WEBHOOK_LIMITS = {
  connectTimeoutMs: 3000,
  /** The whole attempt, connection to the last byte read. */
  totalTimeoutMs: 10_000,
  /** Bytes of the receiver's response read (the rest is dropped). */
  maxResponseBytes: 4096,
} as const;
