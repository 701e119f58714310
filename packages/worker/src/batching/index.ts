/**
 * Cross-job batching: one ModelBatcher per loaded model merges the eps calls of the jobs running on it into
 * shared model calls, and the invariance check tells whether those calls may vary in size (mode 'batched') or
 * must all have one shape (mode 'padded') for every job's bytes to be the same alone or in any batch.
 */
export { createModelBatcher, DEFAULT_MAX_WAIT_MS } from './batcher.ts';
export {
  type BatchModeChoice,
  checkBatchInvariance,
  chooseBatchMode,
  type InvarianceOptions,
  type InvarianceReport,
  type SizeInvariance,
} from './invariance.ts';
export type {
  BatcherOptions,
  BatcherStats,
  BatchMember,
  BatchMode,
  MemberBatchStats,
  ModelBatcher,
} from './types.ts';
