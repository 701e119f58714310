import { MessageChannel } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { offPathTurn } from '../src/offPathTurns.ts';

/** Blocks the event loop for `ms`, as a job's synchronous finishing work does. */
const busy = (ms: number) => {
  const until = performance.now() + ms;
  while (performance.now() < until);
};

describe('offPathTurn', () => {
  it('lets a message that arrives meanwhile (a model call answered from its thread) in between two finishing jobs', async () => {
    const order: string[] = [];
    const channel = new MessageChannel();
    const answered = new Promise<void>((resolve) =>
      channel.port2.once('message', () => {
        order.push('answer');
        resolve();
      }),
    );
    // Four jobs leave the model in one turn; the answer of the next call is posted as the first starts.
    const jobs = [0, 1, 2, 3].map(async (n) => {
      await offPathTurn();
      if (n === 0) channel.port1.postMessage('eps');
      order.push(`job ${n}`);
      busy(20);
    });
    await Promise.all([...jobs, answered]);
    channel.port1.close();
    // In one turn together, all four would run before the answer is seen (80 ms); in turns, it waits for one.
    expect(order.indexOf('answer')).toBeLessThan(order.indexOf('job 2'));
    expect(order.filter((entry) => entry.startsWith('job'))).toEqual(['job 0', 'job 1', 'job 2', 'job 3']);
  });

  it('runs a waiter that asks while others wait after them, and goes on after the queue empties', async () => {
    const order: number[] = [];
    await Promise.all([
      offPathTurn().then(() => {
        order.push(1);
        return offPathTurn().then(() => order.push(3));
      }),
      offPathTurn().then(() => order.push(2)),
    ]);
    await offPathTurn();
    order.push(4);
    expect(order).toEqual([1, 2, 3, 4]);
  });
});
