import { type JobStatus, TERMINAL_STATUSES } from './jobs.ts';

/**
 * The job state machine: queued -> running -> succeeded | failed | canceled, and expired when a job waited
 * past its TTL. running -> queued is a retry after a worker died (stale heartbeat) or was stopped.
 * Every transition is a conditional write on the `from` status.
 */
const TRANSITIONS: Record<JobStatus, readonly JobStatus[]> = {
  queued: ['running', 'canceled', 'expired', 'failed'],
  running: ['succeeded', 'failed', 'canceled', 'queued'],
  succeeded: [],
  failed: [],
  canceled: [],
  expired: [],
};

export const canTransition = (from: JobStatus, to: JobStatus): boolean => TRANSITIONS[from].includes(to);
export const isTerminal = (status: JobStatus): boolean => TERMINAL_STATUSES.includes(status);
