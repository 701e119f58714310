import type { JobItem } from '@obelm/core';
import type { JobLease } from '../queue/lease.ts';
import type { ReceivedMessage } from '../queue/queue.ts';
import type { ExecuteDeps, JobOutcome } from './context.ts';
import { runToEnd } from './run.ts';
import { settleStoppedRun } from './stopped.ts';
import { RunTrace } from './trace.ts';

/**
 * Runs a job this worker has claimed, to one of its ends: the run itself (run.ts) ends `succeeded`, or `lost`
 * when the job changed hands while its outputs were written; a run that stopped early is settled from what it
 * did (stopped.ts): canceled, checkpointed, lost, failed or retried.
 */
export async function executeJob(
  deps: ExecuteDeps,
  job: JobItem,
  message: ReceivedMessage,
  lease: JobLease,
): Promise<JobOutcome> {
  const trace = new RunTrace();
  try {
    return await runToEnd(deps, job, message, lease, trace);
  } catch (error) {
    return settleStoppedRun(deps, job, message, lease, trace, error);
  }
}

export type { ExecuteDeps, JobOutcome } from './context.ts';
