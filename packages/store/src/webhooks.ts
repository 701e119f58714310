import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import {
  dbKeys,
  isConditionFailed,
  isTerminal,
  type JobItem,
  subscribedEvents,
  type WebhookAttempt,
  type WebhookDelivery,
  type WebhookDeliveryItem,
  type WebhookEventType,
  type WebhookMessage,
} from '@obelm/core';
import type { StoreContext } from './context.ts';

/**
 * Webhook deliveries: one item per event (`dbKeys.webhookDelivery(eventId)`), put once by whoever relays the end
 * of its subject (outbox.ts), and the messages of the webhooks queue that the dispatcher (packages/api
 * webhooks/dispatch.ts) turns into attempts. The event id is the `webhook-id`: the same on every attempt, every
 * retry of the relay and every redelivery.
 *
 * Which message is worth acting on is decided from the item, not from the message: the item's `nextAttemptAt` is
 * the schedule, and a message that arrives before it (a duplicate, one a redelivery superseded, one sent again
 * after a crash) only waits for it. Each attempt is recorded conditionally on the state its dispatcher read, so
 * of two dispatchers of one due delivery only one records it and schedules the next.
 */

/** An event to deliver: what the relay of a job's (or batch's) end knows. */
export interface WebhookEvent {
  eventId: string;
  type: WebhookEventType;
  tenant: string;
  subject: WebhookDeliveryItem['subject'];
  url: string;
  occurredAt: string;
  /** Epoch seconds after which the delivery item may go: its subject's own TTL. */
  ttl?: number;
}

/** The end event of a job that must go to its webhook: ended, with a webhook subscribed to its end's type. */
export function jobWebhookEvent(job: JobItem): WebhookEvent | undefined {
  const { webhook, endEvent } = job;
  if (!webhook || !endEvent || !isTerminal(job.status)) return undefined;
  if (!subscribedEvents(webhook, 'job').includes(endEvent.type)) return undefined;
  return {
    eventId: endEvent.id,
    type: endEvent.type,
    tenant: job.tenant,
    subject: { kind: 'job', id: job.id },
    url: webhook.url,
    occurredAt: endEvent.at,
    ttl: job.ttl,
  };
}

/**
 * Puts the event's delivery (once: conditional on its key) and sends its message. Idempotent: when the item is
 * already there and nothing has been attempted or scheduled yet (a relay that crashed after the put), the message
 * is sent again, since the first may never have left; the dispatcher drops what is no longer pending.
 */
export async function enqueueWebhookEvent(ctx: StoreContext, event: WebhookEvent): Promise<void> {
  const now = ctx.now().toISOString();
  const item: WebhookDeliveryItem = {
    id: event.eventId,
    type: event.type,
    url: event.url,
    status: 'pending',
    attempts: [],
    tenant: event.tenant,
    subject: event.subject,
    occurredAt: event.occurredAt,
    createdAt: now,
    updatedAt: now,
    ...(event.ttl !== undefined ? { ttl: event.ttl } : {}),
  };
  const queueUrl = webhooksQueueUrl(ctx);
  try {
    await ctx.db.send(
      new PutCommand({
        TableName: ctx.table,
        Item: { ...dbKeys.webhookDelivery(event.eventId), ...item },
        ConditionExpression: 'attribute_not_exists(pk)',
      }),
    );
  } catch (error) {
    if (!isConditionFailed(error)) throw error;
    const existing = await getWebhookDelivery(ctx, event.eventId);
    if (existing?.status !== 'pending' || existing.attempts.length > 0 || existing.nextAttemptAt) return;
  }
  await sendWebhookMessage(ctx, { v: 1, eventId: event.eventId }, 0, queueUrl);
}

/** The delivery of an event, as stored (strongly consistent: the dispatcher decides from it). */
export async function getWebhookDelivery(
  ctx: StoreContext,
  eventId: string,
): Promise<WebhookDeliveryItem | undefined> {
  const out = await ctx.db.send(
    new GetCommand({ TableName: ctx.table, Key: dbKeys.webhookDelivery(eventId), ConsistentRead: true }),
  );
  return out.Item as WebhookDeliveryItem | undefined;
}

/** The delivery as a view shows it (core WebhookDeliverySchema): the stored item without its bookkeeping. */
export const toWebhookDelivery = (item: WebhookDeliveryItem): WebhookDelivery => ({
  id: item.id,
  type: item.type,
  url: item.url,
  status: item.status,
  attempts: item.attempts,
  ...(item.nextAttemptAt ? { nextAttemptAt: item.nextAttemptAt } : {}),
});

/** Attempts of the delivery's current schedule (a redelivery starts a new one). */
export const attemptsThisRound = (item: WebhookDeliveryItem): number =>
  item.attempts.length - (item.roundStart ?? 0);

/** What an attempt leads to: delivered, given up, or another attempt at `nextAttemptAt`. */
export type AttemptOutcome =
  | { status: 'delivered' | 'failed' }
  | { status: 'pending'; nextAttemptAt: string };

/**
 * Appends `attempt` to the delivery `seen` and sets what it led to, unless the delivery changed since it was read
 * (another dispatcher of the same message recorded first, a redelivery reset it): then false, and the caller
 * does nothing more (the one that recorded schedules what follows).
 */
export async function recordWebhookAttempt(
  ctx: StoreContext,
  seen: WebhookDeliveryItem,
  attempt: WebhookAttempt,
  outcome: AttemptOutcome,
): Promise<boolean> {
  const next = outcome.status === 'pending' ? outcome.nextAttemptAt : undefined;
  return conditionalUpdate(ctx, seen, {
    UpdateExpression:
      'SET #attempts = list_append(#attempts, :attempt), #status = :status, #updatedAt = :now' +
      (next ? ', #nextAttemptAt = :next' : ' REMOVE #nextAttemptAt'),
    ExpressionAttributeValues: {
      ':attempt': [attempt],
      ':status': outcome.status,
      ':now': ctx.now().toISOString(),
      ...(next ? { ':next': next } : {}),
    },
  });
}

/**
 * Starts a new schedule for the delivery (a redelivery): pending, due now, WEBHOOK_MAX_ATTEMPTS more attempts,
 * the past ones kept; then its message. A message of the old schedule still in the queue finds it changed and
 * is dropped. 'not_enqueued' when the delivery does not exist yet (the relay of its subject's end will put it),
 * 'busy' when it kept changing (attempts in flight).
 */
export async function redeliverWebhookEvent(
  ctx: StoreContext,
  eventId: string,
): Promise<'redelivered' | 'not_enqueued' | 'busy'> {
  const queueUrl = webhooksQueueUrl(ctx);
  for (let tries = 0; tries < 3; tries++) {
    const seen = await getWebhookDelivery(ctx, eventId);
    if (!seen) return 'not_enqueued';
    const reset = await conditionalUpdate(ctx, seen, {
      UpdateExpression:
        'SET #status = :status, #roundStart = :roundStart, #updatedAt = :now REMOVE #nextAttemptAt',
      ExpressionAttributeValues: {
        ':status': 'pending',
        ':roundStart': seen.attempts.length,
        ':now': ctx.now().toISOString(),
      },
    });
    if (!reset) continue;
    await sendWebhookMessage(ctx, { v: 1, eventId }, 0, queueUrl);
    return 'redelivered';
  }
  return 'busy';
}

/**
 * Sends a webhooks-queue message, delayed `delaySeconds` (at most SQS's cap: the dispatcher chains longer waits
 * through the message's `notBefore`).
 */
export async function sendWebhookMessage(
  ctx: StoreContext,
  message: WebhookMessage,
  delaySeconds = 0,
  queueUrl = webhooksQueueUrl(ctx),
): Promise<void> {
  await ctx.sqs.send(
    new SendMessageCommand({
      QueueUrl: queueUrl,
      MessageBody: JSON.stringify(message),
      ...(delaySeconds > 0 ? { DelaySeconds: delaySeconds } : {}),
    }),
  );
}

function webhooksQueueUrl(ctx: StoreContext): string {
  if (!ctx.webhooksQueueUrl) {
    throw new Error('OBELM_WEBHOOKS_QUEUE_URL is not set: webhook events cannot be enqueued');
  }
  return ctx.webhooksQueueUrl;
}

/**
 * An update of the delivery, conditional on what `seen` read: the same status, number of attempts and schedule.
 * False when it no longer holds.
 */
async function conditionalUpdate(
  ctx: StoreContext,
  seen: WebhookDeliveryItem,
  update: { UpdateExpression: string; ExpressionAttributeValues: Record<string, unknown> },
): Promise<boolean> {
  const names: Record<string, string> = {
    '#attempts': 'attempts',
    '#status': 'status',
    '#updatedAt': 'updatedAt',
    '#nextAttemptAt': 'nextAttemptAt',
  };
  if (update.UpdateExpression.includes('#roundStart')) names['#roundStart'] = 'roundStart';
  try {
    await ctx.db.send(
      new UpdateCommand({
        TableName: ctx.table,
        Key: dbKeys.webhookDelivery(seen.id),
        UpdateExpression: update.UpdateExpression,
        ConditionExpression:
          'attribute_exists(pk) AND #status = :seenStatus AND size(#attempts) = :seenAttempts AND ' +
          (seen.nextAttemptAt ? '#nextAttemptAt = :seenNext' : 'attribute_not_exists(#nextAttemptAt)'),
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: {
          ...update.ExpressionAttributeValues,
          ':seenStatus': seen.status,
          ':seenAttempts': seen.attempts.length,
          ...(seen.nextAttemptAt ? { ':seenNext': seen.nextAttemptAt } : {}),
        },
      }),
    );
    return true;
  } catch (error) {
    if (isConditionFailed(error)) return false;
    throw error;
  }
}
