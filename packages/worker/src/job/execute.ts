import type { JobItem } from '@obelm/core';
import type { JobLease } from '../queue/lease.ts';
import type { ReceivedMessage } from '../queue/queue.ts';
import type { ExecuteDeps, JobOutcome } from './context.ts';
import type { SlotTicket } from './modelSlots.ts';
import { runToEnd } from './run.ts';
import { settleStoppedRun } from './stopped.ts';
import { RunTrace } from './trace.ts';

/**
 * Runs a job this worker has claimed, to one of its ends: the run itself (run.ts) ends `succeeded`, or `lost`
 * when the job changed hands while its outputs were written; a run that stopped early is settled from what it
 * did (stopped.ts): canceled, checkpointed, lost, failed or retried. `slot` is the job's place in the worker's
 * model slots: it holds one only while its pipeline runs, and none once the job has ended, whatever the end.
 */
export async function executeJob(
  deps: ExecuteDeps,
  job: JobItem,
  message: ReceivedMessage,
  lease: JobLease,
  slot: SlotTicket,
): Promise<JobOutcome> {
  const trace = new RunTrace();
  try {
    return await runToEnd(deps, job, message, lease, trace, slot);
  } catch (error) {
    slot.leave(); // settling writes and deletes: the next job can use the model meanwhile
    return await settleStoppedRun(deps, job, message, lease, trace, error);
  } finally {
    slot.end();
  }
}

export type { ExecuteDeps, JobOutcome } from './context.ts';
