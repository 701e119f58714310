import {
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  type Message,
  ReceiveMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { describeError, type Logger, WEBHOOK_DISPATCH_TIMEOUT_SECONDS } from '@obelm/core';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';

/** A Lambda SQS handler (middy, partial batch failures): what the cloud's event source mapping invokes. */
export type SqsHandler = (event: SQSEvent, context: Context) => Promise<SQSBatchResponse | undefined>;

export interface QueueConsumerOptions {
  sqs: SQSClient;
  queueUrl: string;
  handler: SqsHandler;
  log: Logger;
  /**
   * Long-poll wait of one receive (0..20 s). Default 10: under the API clients' request timeout (api deps.ts,
   * 15 s), which would otherwise cut every idle poll short with a warning.
   */
  pollSeconds?: number;
  /** Messages per invocation (the cloud's batch size). Default 10, SQS's most. */
  batchSize?: number;
  /** The handler's Lambda timeout, as its context reports it. Default the queue handlers' (core queues.ts). */
  timeoutSeconds?: number;
}

export interface QueueConsumer {
  /** Stops polling and waits for the invocation in progress. */
  stop(): Promise<void>;
}

/** Time between polls after a failed one (the SQS stand-in down). */
const RETRY_MS = 500;

/**
 * Lambda's SQS event source, on one machine: long-polls `queueUrl`, invokes `handler` with the records in the
 * Lambda SQS event format, and deletes the records the handler did not report in `batchItemFailures` (those come
 * back after the queue's visibility timeout, and move to its DLQ after its receive limit, as in the cloud). A
 * handler that throws fails every record. One invocation at a time.
 */
export function startQueueConsumer(options: QueueConsumerOptions): QueueConsumer {
  const { sqs, queueUrl, handler, log, pollSeconds = 10, batchSize = 10 } = options;
  const timeoutMs = (options.timeoutSeconds ?? WEBHOOK_DISPATCH_TIMEOUT_SECONDS) * 1000;
  const name = queueUrl.split('/').at(-1) ?? 'queue';
  const abort = new AbortController();
  let queueArn: string | undefined;

  const pollOnce = async (): Promise<void> => {
    queueArn ??= (
      await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn'] }), {
        abortSignal: abort.signal,
      })
    ).Attributes?.['QueueArn'];
    const { Messages = [] } = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: queueUrl,
        MaxNumberOfMessages: batchSize,
        WaitTimeSeconds: pollSeconds,
        MessageSystemAttributeNames: ['All'],
        MessageAttributeNames: ['All'],
      }),
      { abortSignal: abort.signal },
    );
    if (Messages.length === 0) return;
    const records = Messages.map((message) => toRecord(message, queueArn ?? queueUrl));
    let failed: Set<string>;
    try {
      const response = await handler({ Records: records }, invocationContext(name, timeoutMs));
      failed = new Set((response?.batchItemFailures ?? []).map((f) => f.itemIdentifier));
    } catch (error) {
      log.error('queue handler threw; every record of the batch comes back', {
        queue: name,
        ...describeError(error),
      });
      failed = new Set(records.map((r) => r.messageId));
    }
    const done = records.filter((record) => !failed.has(record.messageId));
    if (done.length === 0) return;
    await sqs.send(
      new DeleteMessageBatchCommand({
        QueueUrl: queueUrl,
        Entries: done.map((record, i) => ({ Id: String(i), ReceiptHandle: record.receiptHandle })),
      }),
    );
  };

  const running = (async () => {
    while (!abort.signal.aborted) {
      try {
        await pollOnce();
      } catch (error) {
        if (abort.signal.aborted) break;
        log.warn('queue poll failed; trying again', { queue: name, ...describeError(error) });
        await new Promise((resolve) => setTimeout(resolve, RETRY_MS));
      }
    }
  })();

  return {
    stop: async () => {
      // An aborted receive may still take a message on the server side; it comes back after its visibility.
      abort.abort();
      await running;
    },
  };
}

/** A received message as Lambda's SQS event source hands it to a function. */
function toRecord(message: Message, queueArn: string): SQSRecord {
  const attributes = message.Attributes ?? {};
  return {
    messageId: message.MessageId ?? '',
    receiptHandle: message.ReceiptHandle ?? '',
    body: message.Body ?? '',
    attributes: {
      ApproximateReceiveCount: attributes['ApproximateReceiveCount'] ?? '1',
      SentTimestamp: attributes['SentTimestamp'] ?? String(Date.now()),
      SenderId: attributes['SenderId'] ?? '000000000000',
      ApproximateFirstReceiveTimestamp: attributes['ApproximateFirstReceiveTimestamp'] ?? String(Date.now()),
    },
    messageAttributes: Object.fromEntries(
      Object.entries(message.MessageAttributes ?? {}).map(([key, value]) => [
        key,
        {
          dataType: value.DataType ?? 'String',
          ...(value.StringValue !== undefined ? { stringValue: value.StringValue } : {}),
        },
      ]),
    ),
    md5OfBody: message.MD5OfBody ?? '',
    eventSource: 'aws:sqs',
    eventSourceARN: queueArn,
    awsRegion: queueArn.split(':')[3] ?? 'us-east-1',
  };
}

/** The Lambda context of one invocation: what a middy handler may ask of it. */
function invocationContext(queue: string, timeoutMs: number): Context {
  const deadline = Date.now() + timeoutMs;
  const functionName = `obelm-local-${queue}`;
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:us-east-1:000000000000:function:${functionName}`,
    memoryLimitInMB: '1024',
    awsRequestId: crypto.randomUUID(),
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: 'local',
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}
