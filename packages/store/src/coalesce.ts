/**
 * Wraps `task` so that, per key, at most one run is in flight and at most one waits behind it: a call while a run
 * is in flight waits for the next run, and calls that arrive while that one waits share it. N concurrent calls
 * make at most two runs, and each call is answered by a run that started after the call was made (so it sees
 * whatever the caller changed before calling).
 */
export function coalescing<K, T>(task: (key: K) => Promise<T>): (key: K) => Promise<T> {
  const running = new Map<K, Promise<T>>();
  const waiting = new Map<K, Promise<T>>();
  const start = (key: K): Promise<T> => {
    const run: Promise<T> = task(key).finally(() => {
      if (running.get(key) === run) running.delete(key);
    });
    running.set(key, run);
    return run;
  };
  return (key) => {
    const next = waiting.get(key);
    if (next) return next;
    const current = running.get(key);
    if (!current) return start(key);
    const queued = current.then(
      () => undefined,
      () => undefined,
    );
    const after = queued.then(() => {
      waiting.delete(key);
      return start(key);
    });
    waiting.set(key, after);
    return after;
  };
}
