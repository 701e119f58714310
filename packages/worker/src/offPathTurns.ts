/**
 * Work off the model's path takes event-loop turns of its own. Jobs that share model calls reach the same points
 * together: a cohort's last call answers all of them at once (and frees the slots the next group's claims wait
 * for), and they pass a progress write's step together. Run as it comes, every job's share (a finishing job's
 * decode, encode set-up, report and the SDK work of its writes up to the sockets; a progress write's or a claim's
 * SDK work) would go back to back in one turn, and the model's next call, already posted for the jobs still
 * running, would have its answer held behind the whole burst while the device idles. Here each waiter starts in
 * a turn of its own (a check phase), and between two turns the loop runs its timers and I/O, a model call's
 * answer among them.
 */
const waiting: (() => void)[] = [];

/** Resolves in an event-loop turn of its own, after the turns of those that asked before. */
export function offPathTurn(): Promise<void> {
  return new Promise((resolve) => {
    waiting.push(resolve);
    if (waiting.length === 1) setImmediate(nextTurn);
  });
}

function nextTurn(): void {
  waiting.shift()?.();
  if (waiting.length > 0) setImmediate(nextTurn);
}
