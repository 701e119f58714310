import middy from '@middy/core';
import sqsPartialBatchFailure from '@middy/sqs-partial-batch-failure';
import { createLogger, describeError, WebhookMessageSchema } from '@obelm/core';
import type { SQSEvent, SQSRecord } from 'aws-lambda';
import { type Deps, type DepsProvider, lambdaDepsProvider } from '../deps.ts';
import { dispatchWebhookMessage } from '../webhooks/dispatch.ts';

const log = createLogger('webhooks');

/**
 * The webhooks queue's consumer (Lambda event source; locally the stack's queue consumer): each record is one
 * delivery's message (webhooks/dispatch.ts), handled on its own. A record that throws (our fault: DynamoDB or
 * SQS down, a malformed message) is reported in `batchItemFailures` and comes back; the others are deleted.
 */
export const buildWebhookDispatcher = (deps: DepsProvider) =>
  middy<SQSEvent>()
    .use(
      sqsPartialBatchFailure({
        logger: (reason: unknown, record: SQSRecord) =>
          log.error('webhook message failed; SQS will hand it out again', {
            messageId: record.messageId,
            ...describeError(reason),
          }),
      }),
    )
    .handler(async (event) => {
      const d = deps();
      return Promise.allSettled(event.Records.map((record) => dispatchRecord(d, record)));
    });

function dispatchRecord(d: Deps, record: SQSRecord): Promise<void> {
  const message = WebhookMessageSchema.parse(JSON.parse(record.body));
  const receiveCount = Number(record.attributes.ApproximateReceiveCount) || 1;
  return dispatchWebhookMessage(d, message, { receiveCount, log });
}

export const handler = buildWebhookDispatcher(lambdaDepsProvider);
