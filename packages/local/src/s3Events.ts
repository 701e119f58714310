import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { describeError, type Logger, S3_PREFIXES } from '@obelm/core';

/**
 * The bucket's event notification, on one machine: s3rver emits an `event` for every object it stores, already
 * in the S3 notification format; the ObjectCreated records under batch/ go to the batch queue, one message per
 * record as S3 sends them, so the cloud's batch trigger (packages/api/src/handlers/batchTrigger.ts) consumes them
 * unchanged. The one difference s3rver has from S3 is fixed on the way: S3 URL-encodes the key in a record.
 */

interface S3NotificationRecord {
  eventName?: string;
  s3?: { object?: { key?: string } };
}

export interface S3EventBridge {
  /** s3rver's `event` listener. */
  onEvent(notification: unknown): void;
  /** Waits for the messages being sent. */
  stop(): Promise<void>;
}

export function startS3EventBridge(options: {
  sqs: SQSClient;
  queueUrl: string;
  log: Logger;
}): S3EventBridge {
  const { sqs, queueUrl, log } = options;
  const sending = new Set<Promise<void>>();
  const send = (record: S3NotificationRecord & { s3: { object: { key: string } } }) => {
    const { key } = record.s3.object;
    const message = {
      Records: [
        { ...record, s3: { ...record.s3, object: { ...record.s3.object, key: encodeEventKey(key) } } },
      ],
    };
    const sent = sqs
      .send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: JSON.stringify(message) }))
      .then(
        () => undefined,
        // As when S3 cannot deliver a notification: the object stays, no job starts (the caller sees no job).
        (error: unknown) =>
          log.error('S3 event not queued: no batch job for it', { key, ...describeError(error) }),
      )
      .finally(() => sending.delete(sent));
    sending.add(sent);
  };
  return {
    onEvent: (notification) => {
      const records = (notification as { Records?: S3NotificationRecord[] } | undefined)?.Records ?? [];
      for (const record of records) {
        const key = record.s3?.object?.key;
        if (record.eventName?.startsWith('ObjectCreated:') && key?.startsWith(S3_PREFIXES.batch)) {
          send(record as S3NotificationRecord & { s3: { object: { key: string } } });
        }
      }
    },
    stop: async () => {
      await Promise.all(sending);
    },
  };
}

/** A key as S3 writes it in an event record: URL-encoded, a space as `+`, `/` kept. */
export const encodeEventKey = (key: string): string =>
  encodeURIComponent(key).replace(/%20/g, '+').replace(/%2F/g, '/');
