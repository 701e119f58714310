import { DeleteMessageBatchCommand, type SQSClient } from '@aws-sdk/client-sqs';

/** SQS's limit on the entries of one DeleteMessageBatch. */
export const MAX_DELETE_BATCH = 10;

interface PendingDelete {
  receiptHandle: string;
  resolve(): void;
  reject(error: Error): void;
}

/**
 * Deletes a queue's messages, those asked for together in one DeleteMessageBatch: the deletes asked for before
 * the first one's microtask runs (in the same synchronous run, or in microtasks queued ahead of it) go as one
 * call, and those asked for while a call is out go together when it returns (10 a call at most). Nothing waits on
 * a timer, so a lone delete is not held back; jobs whose ends meet (a batched group's can) share calls, the more
 * so the longer SQS takes to answer. Each caller learns its own message's outcome:
 * an entry SQS refuses rejects with SQS's code as the error's name, as DeleteMessage would throw it; a failed
 * call rejects every delete in it.
 */
export class BatchedDeletes {
  private pending: PendingDelete[] = [];
  private sending = false;

  constructor(
    private readonly sqs: SQSClient,
    private readonly url: string,
  ) {}

  delete(receiptHandle: string): Promise<void> {
    return new Promise((resolve, reject) => {
      this.pending.push({ receiptHandle, resolve, reject });
      if (this.sending) return;
      this.sending = true;
      // In a microtask, so that the deletes asked for in the same synchronous run go together (not a later turn:
      // a lone delete is not held back).
      queueMicrotask(() => void this.drain());
    });
  }

  private async drain(): Promise<void> {
    while (this.pending.length > 0) await this.send(this.pending.splice(0, MAX_DELETE_BATCH));
    this.sending = false;
  }

  private async send(batch: PendingDelete[]): Promise<void> {
    try {
      const out = await this.sqs.send(
        new DeleteMessageBatchCommand({
          QueueUrl: this.url,
          Entries: batch.map(({ receiptHandle }, n) => ({ Id: String(n), ReceiptHandle: receiptHandle })),
        }),
      );
      const failed = new Map((out.Failed ?? []).map((entry) => [entry.Id, entry]));
      const succeeded = new Set((out.Successful ?? []).map((entry) => entry.Id));
      batch.forEach(({ resolve, reject }, n) => {
        const failure = failed.get(String(n));
        if (failure) {
          const error = new Error(failure.Message ?? 'The message was not deleted.');
          error.name = failure.Code ?? 'DeleteMessageFailed';
          reject(error);
        } else if (succeeded.has(String(n))) resolve();
        else reject(new Error('DeleteMessageBatch answered nothing for this message.'));
      });
    } catch (error) {
      for (const { reject } of batch) reject(error instanceof Error ? error : new Error(String(error)));
    }
  }
}
