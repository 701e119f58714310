import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CreateQueueCommand,
  type DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { type LocalStack, startLocalStack } from '@obelm/local';
import { afterAll, beforeAll, beforeEach, expect, test } from 'vitest';
import { BatchedDeletes, MAX_DELETE_BATCH } from '../src/queue/batchedDeletes.ts';

/**
 * The worker's message deletes (queue/batchedDeletes.ts) against the SQS stand-in: deletes asked for together share
 * DeleteMessageBatch calls, a lone one goes at once, and each caller gets its own message's outcome.
 */

let stack: LocalStack;
let dir: string;
/** Entries of each DeleteMessageBatch call sent, in order. */
let calls: number[] = [];
let counted: SQSClient;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'obelm-deletes-'));
  stack = await startLocalStack({ dataDir: dir, port: 0, worker: false, sweepEverySeconds: 0 });
  const sqs = stack.deps.sqs;
  // The real client, each batch's size noted on its way.
  counted = {
    send: (command: DeleteMessageBatchCommand) => {
      calls.push(command.input.Entries?.length ?? 0);
      return sqs.send(command);
    },
  } as unknown as SQSClient;
});
afterAll(async () => {
  await stack?.stop();
  rmSync(dir, { recursive: true, force: true });
});
beforeEach(() => {
  calls = [];
});

let queues = 0;
/** A new queue holding `count` messages, all received (in flight): their receipt handles. */
async function receivedMessages(count: number): Promise<{ url: string; handles: string[] }> {
  const sqs = stack.deps.sqs;
  const { QueueUrl: url } = await sqs.send(new CreateQueueCommand({ QueueName: `deletes-${++queues}` }));
  for (let n = 0; n < count; n++)
    await sqs.send(new SendMessageCommand({ QueueUrl: url, MessageBody: `m${n}` }));
  const handles: string[] = [];
  while (handles.length < count) {
    const { Messages = [] } = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10, VisibilityTimeout: 300 }),
    );
    handles.push(...Messages.map((m) => m.ReceiptHandle!));
  }
  return { url: url!, handles };
}

/** Messages the queue still holds, visible or in flight. */
async function messagesLeft(url: string): Promise<number> {
  const { Attributes = {} } = await stack.deps.sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: url,
      AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
    }),
  );
  return (
    Number(Attributes.ApproximateNumberOfMessages) + Number(Attributes.ApproximateNumberOfMessagesNotVisible)
  );
}

test('deletes asked for together go in calls of 10 at most, and every message is gone', async () => {
  const { url, handles } = await receivedMessages(12);
  const deletes = new BatchedDeletes(counted, url);
  await Promise.all(handles.map((handle) => deletes.delete(handle)));
  expect(calls).toEqual([MAX_DELETE_BATCH, 2]);
  expect(await messagesLeft(url)).toBe(0);
});

test('a lone delete goes at once; those asked for while it is out go together after it', async () => {
  const { url, handles } = await receivedMessages(4);
  const deletes = new BatchedDeletes(counted, url);
  const first = deletes.delete(handles[0]!);
  // The next turn of the event loop: the first call is out, no answer can have come yet.
  await new Promise((resolve) => setImmediate(resolve));
  const rest = handles.slice(1).map((handle) => deletes.delete(handle));
  await Promise.all([first, ...rest]);
  expect(calls).toEqual([1, 3]);
  expect(await messagesLeft(url)).toBe(0);
  // Once all are done, a new delete goes alone again.
  const more = await receivedMessages(1);
  await new BatchedDeletes(counted, more.url).delete(more.handles[0]!);
  expect(calls).toEqual([1, 3, 1]);
});

test("an entry SQS refuses fails its own delete with SQS's code; a failed call fails its deletes, not later ones", async () => {
  // The SQS stand-in deletes any handle; real SQS refuses an expired one by entry. Answers as SQS gives them:
  let failCall = false;
  const sqs = {
    send: async (command: DeleteMessageBatchCommand) => {
      if (failCall) throw Object.assign(new Error('connect ECONNREFUSED'), { name: 'Error' });
      const entries = command.input.Entries ?? [];
      return {
        Successful: entries.filter((e) => e.ReceiptHandle !== 'expired').map((e) => ({ Id: e.Id })),
        Failed: entries
          .filter((e) => e.ReceiptHandle === 'expired')
          .map((e) => ({
            Id: e.Id,
            SenderFault: true,
            Code: 'ReceiptHandleIsInvalid',
            Message: 'The receipt handle has expired.',
          })),
      };
    },
  } as unknown as SQSClient;
  const deletes = new BatchedDeletes(sqs, 'queue');
  const outcomes = await Promise.allSettled(['a', 'expired', 'b'].map((handle) => deletes.delete(handle)));
  expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
  const refused = (outcomes[1] as PromiseRejectedResult).reason as Error;
  expect([refused.name, refused.message]).toEqual([
    'ReceiptHandleIsInvalid',
    'The receipt handle has expired.',
  ]);

  failCall = true;
  const failed = await Promise.allSettled(['c', 'd'].map((handle) => deletes.delete(handle)));
  expect(failed.map((o) => o.status)).toEqual(['rejected', 'rejected']);
  failCall = false;
  await expect(deletes.delete('e')).resolves.toBeUndefined();
});
