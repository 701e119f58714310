import type { StandIn } from './standins.ts';

/** A stand-in that outage tests stop and start again; its endpoint (port) stays the same across restarts. */
export interface RestartableStandIn {
  readonly endpoint: string;
  /** Stops it (connections dropped); a no-op when stopped. */
  stop(): Promise<void>;
  /** Starts it again on the same port; a no-op when running. */
  start(): Promise<void>;
}

/**
 * Starts a stand-in with `start(0)` (a free port) and keeps that port for later starts, so every client and
 * worker process configured with the endpoint reaches it again. Stops and starts run one at a time.
 */
export async function restartable(start: (port: number) => Promise<StandIn>): Promise<RestartableStandIn> {
  let current: StandIn | undefined = await start(0);
  const endpoint = current.endpoint;
  const port = Number(new URL(endpoint).port);
  let last: Promise<unknown> = Promise.resolve();
  const serially = (step: () => Promise<void>): Promise<void> => {
    const next = last.then(step);
    last = next.catch(() => {});
    return next;
  };
  return {
    endpoint,
    stop: () =>
      serially(async () => {
        const running = current;
        current = undefined;
        await running?.stop();
      }),
    start: () =>
      serially(async () => {
        if (current) return;
        const started = await start(port);
        if (started.endpoint !== endpoint) {
          await started.stop();
          throw new Error(`stand-in came back at ${started.endpoint}, not ${endpoint}`);
        }
        current = started;
      }),
  };
}
