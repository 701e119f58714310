import { expect, test } from 'vitest';
import { coalescing } from '../src/coalesce.ts';

/** Per key: one run in flight, one waiting behind it that later callers share (store coalesce.ts). */

function gatedTask() {
  const starts: string[] = [];
  const gates: (() => void)[] = [];
  const task = (key: string) => {
    starts.push(key);
    const run = starts.length;
    return new Promise<number>((resolve) => gates.push(() => resolve(run)));
  };
  const openNext = async () => {
    gates.shift()?.();
    await new Promise((resolve) => setImmediate(resolve));
  };
  return { task, starts, openNext };
}

test('concurrent calls make at most two runs, each answered by a run that started after it', async () => {
  const { task, starts, openNext } = gatedTask();
  const run = coalescing(task);
  const first = run('a');
  const later = [run('a'), run('a'), run('a')];
  expect(starts).toEqual(['a']); // the later calls wait for one more run, not three
  await openNext();
  expect(await first).toBe(1);
  expect(starts).toEqual(['a', 'a']);
  await openNext();
  expect(await Promise.all(later)).toEqual([2, 2, 2]);
  // Idle again: the next call runs at once.
  const again = run('a');
  expect(starts).toHaveLength(3);
  await openNext();
  expect(await again).toBe(3);
});

test('keys do not wait for each other, and a failed run does not stop the next', async () => {
  let fail = true;
  const calls: string[] = [];
  const run = coalescing(async (key: string) => {
    calls.push(key);
    await new Promise((resolve) => setImmediate(resolve));
    if (key === 'a' && fail) {
      fail = false;
      throw new Error('outage');
    }
    return key;
  });
  const [a1, a2, b] = [run('a'), run('a'), run('b')];
  expect(calls).toEqual(['a', 'b']);
  await expect(a1).rejects.toThrow('outage');
  expect(await a2).toBe('a');
  expect(await b).toBe('b');
});
