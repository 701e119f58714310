/**
 * The model device's time, as a process bills it. Every model call of a process waits in one queue (the models
 * package runs its sessions in one thread, a call at a time, in the order posted), so a call's device time runs
 * from its post, or from the answer before it when it was queued behind another call, to its answer. Billed that
 * span, no call pays for another's time, whichever batcher or job posted the calls around it. Were this thread
 * late to see an answer, the next call's span shrinks by what this one's grew, so the sum stays the device's busy
 * time. Calls that truly overlap (two devices) are billed less than their wall time, never more.
 */
let lastAnswerAt = Number.NEGATIVE_INFINITY;

/** The device milliseconds of a call posted at `postedAt` (performance.now()) and answered (or failed) now. */
export function deviceMs(postedAt: number): number {
  const answeredAt = performance.now();
  const ms = Math.max(0, answeredAt - Math.max(postedAt, lastAnswerAt));
  lastAnswerAt = Math.max(lastAnswerAt, answeredAt);
  return ms;
}
