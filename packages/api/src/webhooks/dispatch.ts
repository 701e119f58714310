import {
  type Logger,
  MAX_SQS_DELAY_SECONDS,
  WEBHOOK_MAX_ATTEMPTS,
  type WebhookAttempt,
  type WebhookDeliveryItem,
  type WebhookEnvelope,
  type WebhookMessage,
  webhookRetryDelaySeconds,
} from '@obelm/core';
import {
  attemptsThisRound,
  getBatch,
  getWebhookDelivery,
  recordWebhookAttempt,
  sendWebhookMessage,
  signingSecrets,
} from '@obelm/store';
import { toBatchView } from '../batches/view.ts';
import type { Deps } from '../deps.ts';
import { toJobView } from '../jobs/view.ts';
import { postWebhook } from './guard.ts';
import { signatureHeaders } from './sign.ts';

/**
 * One webhooks-queue message, start to end: the delivery it names is attempted when due, signed with the tenant's
 * secrets (Standard Webhooks), and the attempt recorded; a failure schedules the next attempt (exponential
 * backoff with jitter, core `webhookRetryDelaySeconds`) as a new message delayed until then, chained past SQS's
 * 15-minute cap through `notBefore`; the last failure gives the delivery up and puts the message in the DLQ.
 *
 * Receiver faults (an error status, a timeout, a refused connection, a URL the guard refuses now) are outcomes,
 * recorded like any attempt. Only our own faults throw (DynamoDB or SQS down, a malformed message): the record
 * is then reported as a batch item failure and SQS hands it out again.
 *
 * Which messages act: the delivery item holds the schedule (`nextAttemptAt`) and each message names the time it
 * was scheduled for (`notBefore`). A message whose time is not the item's is stale (a redelivery reset the
 * schedule, or another message already made that attempt) and is dropped, unless SQS hands it out again after a
 * failure: the next attempt it scheduled may never have been sent, so it takes that attempt's place.
 */
export async function dispatchWebhookMessage(
  d: Deps,
  message: WebhookMessage,
  { receiveCount, log }: { receiveCount: number; log: Logger },
): Promise<void> {
  // Not yet due: wait in the queue without reading the table.
  if (message.notBefore && (await deferUntil(d, message.notBefore, message)) === 'deferred') return;

  const delivery = await getWebhookDelivery(d.store, message.eventId);
  const dlog = log.child({ eventId: message.eventId, ...(delivery ? { tenant: delivery.tenant } : {}) });
  if (!delivery) {
    dlog.warn('webhook message names no delivery; dropped');
    return;
  }
  if (delivery.status !== 'pending') return;
  // A current message is due: its `notBefore` is the item's schedule, waited for above.
  const current = (message.notBefore ?? null) === (delivery.nextAttemptAt ?? null);
  if (!current) {
    if (receiveCount <= 1) return;
    // Handed out again after a failure: it stands for the delivery's next attempt, whose message may be missing.
    const next = delivery.nextAttemptAt;
    if (next && (await deferUntil(d, next, { ...message, notBefore: next })) === 'deferred') return;
  }
  await attempt(d, delivery, dlog);
}

/** One attempt of a due delivery, its record, and what it leads to. */
async function attempt(d: Deps, delivery: WebhookDeliveryItem, log: Logger): Promise<void> {
  const data = await subjectView(d, delivery);
  if (data === undefined) {
    log.warn('webhook subject is gone; delivery dropped', { subject: delivery.subject });
    return;
  }
  const at = d.now();
  const envelope: WebhookEnvelope = { type: delivery.type, timestamp: delivery.occurredAt, data };
  const body = JSON.stringify(envelope);
  const secrets = await signingSecrets(d.store, d.sealer, delivery.tenant, at);
  const result = await postWebhook(
    delivery.url,
    body,
    { 'content-type': 'application/json', ...signatureHeaders(secrets, delivery.id, at, body) },
    { allowLoopback: d.config.OBELM_WEBHOOK_ALLOW_LOOPBACK },
  );
  const attempt: WebhookAttempt = {
    at: at.toISOString(),
    ...(result.status !== undefined ? { status: result.status } : {}),
    ...(result.error !== undefined ? { error: result.error } : {}),
    latencyMs: Math.round(result.latencyMs),
  };
  const delivered = result.status !== undefined && result.status >= 200 && result.status < 300;
  const made = attemptsThisRound(delivery) + 1;
  const fields = { attempt: made, ...attempt };

  if (delivered) {
    if (await recordWebhookAttempt(d.store, delivery, attempt, { status: 'delivered' }))
      log.info('webhook delivered', fields);
    return;
  }
  if (made < WEBHOOK_MAX_ATTEMPTS) {
    const delayMs = webhookRetryDelaySeconds(made) * d.config.OBELM_WEBHOOK_RETRY_SCALE * 1000;
    const nextAttemptAt = new Date(d.now().getTime() + delayMs).toISOString();
    // Recorded first: a message of the next attempt that arrived before its record would find it stale.
    if (!(await recordWebhookAttempt(d.store, delivery, attempt, { status: 'pending', nextAttemptAt })))
      return;
    await sendWebhookMessage(
      d.store,
      { v: 1, eventId: delivery.id, notBefore: nextAttemptAt },
      sqsDelaySeconds(Date.parse(nextAttemptAt) - d.now().getTime()),
    );
    log.info('webhook attempt failed; retrying', { ...fields, nextAttemptAt });
    return;
  }
  // Given up. The DLQ first: a delivery recorded failed has its message there, whatever crashes between.
  const dlq = d.config.OBELM_WEBHOOKS_DLQ_URL;
  if (dlq) await sendWebhookMessage(d.store, { v: 1, eventId: delivery.id }, 0, dlq);
  if (await recordWebhookAttempt(d.store, delivery, attempt, { status: 'failed' })) {
    log.error('webhook delivery failed; given up', {
      ...fields,
      url: delivery.url,
      deadLetter: Boolean(dlq),
    });
  }
}

/**
 * The event's `data`: its subject's view as GET returns it now (fresh output links at every attempt);
 * undefined when the subject's item is gone.
 */
async function subjectView(d: Deps, delivery: WebhookDeliveryItem): Promise<unknown> {
  const { kind, id } = delivery.subject;
  if (kind === 'job') {
    const job = await d.store.jobs.get(id);
    return job && toJobView(d, job);
  }
  const batch = await getBatch(d.store, id);
  return batch && toBatchView(d, batch);
}

/**
 * Lets `message` wait until `at`: 'due' once it is (a wait under SQS's one-second granularity is slept here),
 * else 'deferred' after sending it again with `notBefore: at`, delayed as long as SQS allows.
 */
async function deferUntil(d: Deps, at: string, message: WebhookMessage): Promise<'due' | 'deferred'> {
  const waitMs = Date.parse(at) - d.now().getTime();
  const delaySeconds = sqsDelaySeconds(waitMs);
  if (delaySeconds === 0) {
    if (waitMs > 0) await new Promise((resolve) => setTimeout(resolve, waitMs));
    return 'due';
  }
  await sendWebhookMessage(d.store, { ...message, notBefore: at }, delaySeconds);
  return 'deferred';
}

/** A message delay for a wait of `ms`: whole seconds, none under one, at most SQS's cap. */
const sqsDelaySeconds = (ms: number): number =>
  ms < 1000 ? 0 : Math.min(MAX_SQS_DELAY_SECONDS, Math.ceil(ms / 1000));
