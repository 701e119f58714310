import middy from '@middy/core';
import { createLogger, staleAfterMs } from '@obelm/core';
import { type DepsProvider, lambdaDepsProvider } from '../deps.ts';
import { sweepJobs } from '../sweeper.ts';

const log = createLogger('sweeper');

/**
 * Scheduled Lambda (every few minutes): re-enqueue lost jobs, recover stale ones (the worker's own rule: two
 * missed heartbeats, core queues.ts), expire old ones.
 */
export const buildSweeper = (deps: DepsProvider, staleMs = staleAfterMs()) =>
  middy().handler(async () => {
    const report = await sweepJobs(deps(), { staleAfterMs: staleMs });
    log.info('sweep', { ...report });
    return report;
  });

export const handler = buildSweeper(lambdaDepsProvider);
