import { type Logger, ttlAfter } from '@obelm/core';
import type { JobTable, StoreContext } from '@obelm/store';
import type { BlobStore } from '../aws/blobs.ts';
import type { ModelCache } from '../bundles/modelCache.ts';
import type { JobQueue } from '../queue/queue.ts';
import type { JobRunner } from './runner.ts';

/** What running a claimed job needs: the stores, the queue, the models, the pipeline runner and its settings. */
export interface ExecuteDeps {
  /** What follows a job's end is relayed through it (store outbox.ts). */
  readonly store: StoreContext;
  readonly jobs: JobTable;
  readonly queue: JobQueue;
  readonly blobs: BlobStore;
  readonly models: ModelCache;
  readonly runner: JobRunner;
  readonly workerId: string;
  readonly heartbeatSeconds: number;
  /** How long an ended job item is kept (core endedJobKeepSeconds). */
  readonly endedKeepSeconds: number;
  /** Model time between periodic checkpoints of a running job; 0: none (OBELM_CHECKPOINT_SECONDS). */
  readonly checkpointSeconds: number;
  readonly stepDelayMs: number;
  /** Most rows in one model call of the model's batcher (OBELM_MAX_BATCH_ROWS). */
  readonly maxBatchRows: number;
  readonly log: Logger;
}

/** What happened to a claimed job; the consumer only logs it. */
export type JobOutcome = 'succeeded' | 'failed' | 'canceled' | 'checkpointed' | 'lost' | 'retry';

/** Epoch seconds until which an ended job item is kept (DynamoDB TTL). */
export const ttlFromNow = (seconds: number) => ttlAfter(new Date(), seconds);
