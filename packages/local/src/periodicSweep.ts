import { type Deps, sweepJobs } from '@obelm/api';
import { describeError, type Logger } from '@obelm/core';

export interface PeriodicSweep {
  /** Stops the schedule and waits for a sweep in progress. */
  stop(): Promise<void>;
}

/**
 * The sweeper's schedule, as the cloud's cron runs it: every `everyMs` (from the end of the last sweep, so two
 * never overlap), re-send queued jobs whose message is lost (sweeper.ts), take back running jobs whose worker died, expire old queued ones.
 * A failed sweep (a stand-in down) is logged and the next one tries again.
 */
export function startPeriodicSweep(
  deps: Deps,
  { everyMs, staleAfterMs, log }: { everyMs: number; staleAfterMs: number; log: Logger },
): PeriodicSweep {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let sweeping: Promise<void> = Promise.resolve();
  const schedule = () => {
    timer = setTimeout(() => {
      sweeping = sweepJobs(deps, { staleAfterMs })
        .then(
          ({ recovered, expired, requeued }) => {
            if (recovered.length || expired.length) {
              log.info('sweep recovered or expired jobs', { recovered, expired, requeued: requeued.length });
            }
          },
          (error: unknown) => log.warn('sweep failed; trying again later', describeError(error)),
        )
        .finally(() => {
          if (!stopped) schedule();
        });
    }, everyMs);
    timer.unref(); // the API server keeps the process alive, not the schedule
  };
  schedule();
  return {
    stop: async () => {
      stopped = true;
      clearTimeout(timer);
      await sweeping;
    },
  };
}
