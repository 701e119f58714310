import middy from '@middy/core';
import { createLogger } from '@obelm/core';
import { type DepsProvider, lambdaDepsProvider } from '../deps.ts';
import { sweepJobs } from '../sweeper.ts';

const log = createLogger('sweeper');

/** Scheduled Lambda (e.g. every 5 minutes): re-enqueue lost jobs, recover stale ones, expire old ones. */
export const buildSweeper = (deps: DepsProvider, staleAfterMs = 5 * 60_000) =>
  middy().handler(async () => {
    const report = await sweepJobs(deps(), { staleAfterMs });
    log.info('sweep', { ...report });
    return report;
  });

export const handler = buildSweeper(lambdaDepsProvider);
