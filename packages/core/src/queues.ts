/**
 * The work queues' settings: the one definition the cloud (infra/queues.ts) and the local stack
 * (packages/local/src/stack.ts) create the jobs and webhooks queues from, with the worker defaults they
 * are derived from. None of these differs by stage: a message must be handled the same everywhere.
 */

/** How often a worker extends its job message's visibility and stamps heartbeatAt (OBELM_HEARTBEAT_SECONDS). */
export const WORKER_HEARTBEAT_SECONDS = 30;

/** Claims of one job before the worker fails it instead of retrying it: crash loops end here (OBELM_MAX_ATTEMPTS). */
export const WORKER_MAX_ATTEMPTS = 3;

/**
 * A running job whose worker missed two heartbeats is taken back (the conditional requeue in transitions.ts
 * keeps a worker that is merely slow). The worker's claim and the sweeper use the same rule.
 */
export const staleAfterMs = (heartbeatSeconds: number = WORKER_HEARTBEAT_SECONDS): number =>
  2 * heartbeatSeconds * 1000;

/** The webhook dispatcher Lambda's timeout (infra/api.ts); the webhooks queue's visibility is derived from it. */
export const WEBHOOK_DISPATCH_TIMEOUT_SECONDS = 30;

export interface QueueSettings {
  /** Seconds a received message stays hidden unless its consumer says otherwise. */
  visibilityTimeoutSeconds: number;
  /** Receives before the message moves to the queue's dead-letter queue. */
  maxReceiveCount: number;
}

export const QUEUES = {
  jobs: {
    // The worker sets each message's visibility itself (on receive and every heartbeat); this default only
    // covers a consumer that does not. Four heartbeats: one late beat never hands a running job to a second
    // worker, and a crashed worker's job still returns within two minutes.
    visibilityTimeoutSeconds: 4 * WORKER_HEARTBEAT_SECONDS,
    // Above the worker's own limit, so the worker records the failure on the job first; the message of a job
    // failed `too_many_attempts` is then left visible and lands in the DLQ, as does one it cannot parse.
    maxReceiveCount: WORKER_MAX_ATTEMPTS + 2,
  },
  webhooks: {
    // AWS asks for >= 6x the function timeout on a Lambda event source, so retries of a throttled batch do
    // not see the message again while the first attempt still runs.
    visibilityTimeoutSeconds: 6 * WEBHOOK_DISPATCH_TIMEOUT_SECONDS,
    // The dispatcher retries with backoff by re-sending with a delay; SQS receives only guard crashes.
    maxReceiveCount: 5,
  },
  batch: {
    // S3 ObjectCreated notifications under batch/: each starts one job, quickly (a DynamoDB put, a message).
    visibilityTimeoutSeconds: 6 * WEBHOOK_DISPATCH_TIMEOUT_SECONDS,
    maxReceiveCount: 5,
  },
} as const satisfies Record<string, QueueSettings>;

export type QueueName = keyof typeof QUEUES;
