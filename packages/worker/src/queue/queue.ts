import {
  ChangeMessageVisibilityCommand,
  type Message,
  ReceiveMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { BatchedDeletes } from './batchedDeletes.ts';

/** One received jobs-queue message: its raw body and the handle that deletes or extends it. */
export interface ReceivedMessage {
  readonly id: string;
  readonly body: string;
  readonly receiptHandle: string;
  /** How many times SQS has handed this message out, this time included. */
  readonly receiveCount: number;
}

/** The most messages one ReceiveMessage call may return (SQS's limit). */
export const MAX_RECEIVE = 10;

/** The jobs queue as the worker sees it: receive messages, extend them, delete them. */
export class JobQueue {
  private readonly deletes: BatchedDeletes;

  constructor(
    private readonly sqs: SQSClient,
    private readonly url: string,
  ) {
    this.deletes = new BatchedDeletes(sqs, url);
  }

  /**
   * Long-polls for one message, hidden from other workers for `visibilitySeconds`. Resolves `undefined`
   * when the wait ends empty or `signal` aborts it. Beware: an aborted poll may still take a message on the
   * server side (SQS and fauxqs alike), which then stays hidden for `visibilitySeconds`.
   */
  async receive(
    waitSeconds: number,
    visibilitySeconds: number,
    signal?: AbortSignal,
  ): Promise<ReceivedMessage | undefined> {
    const [message] = await this.receiveUpTo(1, waitSeconds, visibilitySeconds, signal);
    return message;
  }

  /**
   * Up to `max` messages, as many as the queue has ready: a long poll for the first ones (receiveUpTo), then
   * receives that do not wait, until `max` or one comes back empty. A receive may bring fewer messages than the
   * queue holds (fauxqs; SQS too), so jobs that wait together are more often received, claimed and admitted into
   * the model together. Best effort: SQS answers a receive that does not wait from a sample of its servers, so it
   * may come back empty with messages left. A failed top-up returns what was received (those are in hand).
   */
  async receiveReady(
    max: number,
    waitSeconds: number,
    visibilitySeconds: number,
  ): Promise<ReceivedMessage[]> {
    const messages = await this.receiveUpTo(max, waitSeconds, visibilitySeconds);
    while (messages.length > 0 && messages.length < max) {
      const more = await this.receiveUpTo(max - messages.length, 0, visibilitySeconds).catch(() => []);
      if (more.length === 0) break;
      messages.push(...more);
    }
    return messages;
  }

  /**
   * Long-polls for up to `max` messages (1..10, SQS's limit) in one call, as receive() does for one: the wait
   * ends as soon as any are available, so it may bring fewer. Empty when the wait ends empty or `signal` aborts it.
   */
  async receiveUpTo(
    max: number,
    waitSeconds: number,
    visibilitySeconds: number,
    signal?: AbortSignal,
  ): Promise<ReceivedMessage[]> {
    let messages: Message[] | undefined;
    try {
      const out = await this.sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: this.url,
          MaxNumberOfMessages: Math.max(1, Math.min(MAX_RECEIVE, Math.floor(max))),
          WaitTimeSeconds: waitSeconds,
          VisibilityTimeout: visibilitySeconds,
          MessageSystemAttributeNames: ['ApproximateReceiveCount'],
        }),
        { abortSignal: signal },
      );
      messages = out.Messages;
    } catch (error) {
      if (signal?.aborted) return [];
      throw error;
    }
    return (messages ?? []).flatMap((message) =>
      message.ReceiptHandle
        ? [
            {
              id: message.MessageId ?? '',
              body: message.Body ?? '',
              receiptHandle: message.ReceiptHandle,
              receiveCount: Number(message.Attributes?.ApproximateReceiveCount ?? 1),
            },
          ]
        : [],
    );
  }

  /** Deletes the message; deletes asked for together share a DeleteMessageBatch call (batchedDeletes.ts). */
  delete(message: ReceivedMessage): Promise<void> {
    return this.deletes.delete(message.receiptHandle);
  }

  /** Hides the message for `seconds` more from now; 0 makes it visible (redelivered) at once. */
  async setVisibility(message: ReceivedMessage, seconds: number): Promise<void> {
    await this.sqs.send(
      new ChangeMessageVisibilityCommand({
        QueueUrl: this.url,
        ReceiptHandle: message.receiptHandle,
        VisibilityTimeout: seconds,
      }),
    );
  }
}
