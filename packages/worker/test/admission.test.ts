import { afterEach, beforeEach, expect, test, vi } from 'vitest';
import { AdmissionGroup, ModelSlots } from '../src/job/modelSlots.ts';

/** Jobs received together enter the model together (modelSlots.ts AdmissionGroup), within a bounded hold. */

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

/** Whether `promise` has settled, after the microtasks queued so far have run. */
async function settled(promise: Promise<unknown>): Promise<boolean> {
  let done = false;
  promise.then(
    () => (done = true),
    () => (done = true),
  );
  await vi.advanceTimersByTimeAsync(0);
  return done;
}

const signal = () => new AbortController().signal;

test('the first ready member waits for the others; all enter when the last is ready', async () => {
  const slots = new ModelSlots(4);
  const group = new AdmissionGroup(3, 1000);
  const tickets = [0, 1, 2].map(() => slots.ticket(group));
  const first = tickets[0]!.enter(signal());
  const second = tickets[1]!.enter(signal());
  expect(await settled(first)).toBe(false);
  expect(slots.count('model')).toBe(0);
  const third = tickets[2]!.enter(signal());
  await Promise.all([first, second, third]);
  expect(slots.count('model')).toBe(3);
});

test('a member that is gone (claim or prefetch failed) is not waited for', async () => {
  const slots = new ModelSlots(4);
  const group = new AdmissionGroup(3, 1000);
  group.gone(); // its claim failed: it never had a ticket
  const [a, b] = [slots.ticket(group), slots.ticket(group)];
  const entered = a.enter(signal());
  expect(await settled(entered)).toBe(false);
  b.end(); // its prefetch failed
  await entered;
  expect(a.phase).toBe('model');
});

test('the hold is bounded from the first ready member', async () => {
  const slots = new ModelSlots(4);
  const group = new AdmissionGroup(2, 30);
  const slow = slots.ticket(group);
  const entered = slots.ticket(group).enter(signal());
  await vi.advanceTimersByTimeAsync(29);
  expect(await settled(entered)).toBe(false);
  await vi.advanceTimersByTimeAsync(1);
  await entered;
  // The late one is not held again.
  await slow.enter(signal());
  expect(slots.count('model')).toBe(2);
});

test('a stop while held rejects that member at once, and it no longer holds the others', async () => {
  const slots = new ModelSlots(4);
  const group = new AdmissionGroup(3, 1000);
  const [a, b, c] = [slots.ticket(group), slots.ticket(group), slots.ticket(group)];
  const stop = new AbortController();
  const held = a.enter(stop.signal);
  const other = b.enter(signal());
  stop.abort('checkpoint');
  await expect(held).rejects.toThrow(/stopped while waiting/);
  a.end();
  expect(await settled(other)).toBe(false); // c is still coming
  await c.enter(signal());
  await other;
  expect(slots.count('model')).toBe(2);
});

test('jobs received alone are not held', async () => {
  const slots = new ModelSlots(1);
  await slots.ticket().enter(signal());
  expect(slots.count('model')).toBe(1);
});
