import {
  ChangeMessageVisibilityCommand,
  DeleteMessageCommand,
  type Message,
  ReceiveMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';

/** One received jobs-queue message: its raw body and the handle that deletes or extends it. */
export interface ReceivedMessage {
  readonly id: string;
  readonly body: string;
  readonly receiptHandle: string;
  /** How many times SQS has handed this message out, this time included. */
  readonly receiveCount: number;
}

/** The jobs queue as the worker sees it: receive one message at a time, extend it, delete it. */
export class JobQueue {
  constructor(
    private readonly sqs: SQSClient,
    private readonly url: string,
  ) {}

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
    let messages: Message[] | undefined;
    try {
      const out = await this.sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: this.url,
          MaxNumberOfMessages: 1,
          WaitTimeSeconds: waitSeconds,
          VisibilityTimeout: visibilitySeconds,
          MessageSystemAttributeNames: ['ApproximateReceiveCount'],
        }),
        { abortSignal: signal },
      );
      messages = out.Messages;
    } catch (error) {
      if (signal?.aborted) return undefined;
      throw error;
    }
    const message = messages?.[0];
    if (!message?.ReceiptHandle) return undefined;
    return {
      id: message.MessageId ?? '',
      body: message.Body ?? '',
      receiptHandle: message.ReceiptHandle,
      receiveCount: Number(message.Attributes?.ApproximateReceiveCount ?? 1),
    };
  }

  async delete(message: ReceivedMessage): Promise<void> {
    await this.sqs.send(
      new DeleteMessageCommand({ QueueUrl: this.url, ReceiptHandle: message.receiptHandle }),
    );
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
