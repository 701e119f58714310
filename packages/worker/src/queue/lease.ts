import { describeError, jobTransitions, type Logger } from '@obelm/core';
import type { JobTable } from '@obelm/store';
import { offPathTurn } from '../offPathTurns.ts';
import type { JobQueue, ReceivedMessage } from './queue.ts';

/** Why a running job was interrupted: the user canceled it, another worker owns it now, or we are stopping. */
export type StopReason = 'canceled' | 'lost' | 'checkpoint';

export interface LeaseOptions {
  readonly jobs: JobTable;
  readonly queue: JobQueue;
  readonly message: ReceivedMessage;
  readonly jobId: string;
  readonly workerId: string;
  readonly heartbeatSeconds: number;
  /** The job's logger (its lines carry jobId and tenant). */
  readonly log: Logger;
}

/** Progress is written at most this often, however fast the steps are. */
const minProgressIntervalMs = 500;

/**
 * Holds a claimed job while it runs: every heartbeat it extends the message's visibility and stamps
 * heartbeatAt; every few steps it writes progress. Each of those writes reads the item back, so a cancel
 * request (or the loss of ownership) aborts `signal` within one heartbeat or one progress write.
 */
export class JobLease {
  private readonly controller = new AbortController();
  private readonly timer: NodeJS.Timeout;
  /** From the start: a job shorter than the interval writes no progress at all, only its end. */
  private lastProgressAt = Date.now();
  private readonly startedAt = performance.now();
  private stepsDone = 0;
  private stepsTotal = 0;
  /** Steps done before this run (a resumed job's first step here is not its first): not this run's pace. */
  private stepsBefore: number | undefined;
  private pending: Promise<void> = Promise.resolve();

  constructor(private readonly o: LeaseOptions) {
    this.timer = setInterval(() => this.serialize(() => this.heartbeat()), o.heartbeatSeconds * 1000);
    this.timer.unref();
  }

  get jobId(): string {
    return this.o.jobId;
  }

  /** Aborted when the job must stop early; `reason` says why. */
  get signal(): AbortSignal {
    return this.controller.signal;
  }

  get stopReason(): StopReason | undefined {
    return this.controller.signal.aborted ? (this.controller.signal.reason as StopReason) : undefined;
  }

  abort(reason: StopReason): void {
    if (!this.controller.signal.aborted) this.controller.abort(reason);
  }

  /**
   * Writes progress every max(1, of/10) steps, but never more often than every 500 ms (nor in the first 500 ms).
   * The write goes out behind the step, in order with the heartbeats, so the model does not wait for the table;
   * a cancel it sees aborts `signal`, which stops the run at its next step.
   */
  progress(step: number, of: number): void {
    this.stepsBefore ??= step - 1;
    this.stepsDone = step;
    this.stepsTotal = of;
    const every = Math.max(1, Math.floor(of / 10));
    const now = Date.now();
    if (step % every !== 0) return;
    if (now - this.lastProgressAt < minProgressIntervalMs) return;
    this.lastProgressAt = now;
    void this.serialize(async () => {
      // Jobs batched together pass this step together: their writes take turns, off the model's path.
      await offPathTurn();
      const item = await this.o.jobs.apply(
        jobTransitions.progress(this.o.jobId, this.o.workerId, new Date(), { step, of }),
      );
      this.observe(item);
    });
  }

  /** Time the job still needs at its pace so far; undefined before its first step. */
  estimateRemainingMs(): number | undefined {
    const ranHere = this.stepsDone - (this.stepsBefore ?? 0);
    if (ranHere <= 0) return undefined;
    const perStep = (performance.now() - this.startedAt) / ranHere;
    return perStep * (this.stepsTotal - this.stepsDone);
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.pending;
  }

  private async heartbeat(): Promise<void> {
    // The item's heartbeat is what proves this worker alive (staleness is judged on it), so it is written even
    // when the queue is unreachable or has lost the message (an SQS outage): only the DynamoDB write may fail
    // the beat. Visibility covers three heartbeats, so one late tick does not hand the message to another worker.
    const visibility = this.o.queue
      .setVisibility(this.o.message, this.o.heartbeatSeconds * 3)
      .catch((error: unknown) => this.o.log.warn('message visibility not extended', describeError(error)));
    this.observe(await this.o.jobs.apply(jobTransitions.progress(this.o.jobId, this.o.workerId, new Date())));
    await visibility;
  }

  private observe(item: { cancelRequested?: boolean } | undefined): void {
    if (item === undefined) this.abort('lost');
    else if (item.cancelRequested) this.abort('canceled');
  }

  /** One write at a time, in order; a failed heartbeat is logged and retried at the next tick. */
  private serialize(write: () => Promise<void>): Promise<void> {
    this.pending = this.pending.then(write).catch((error: unknown) => {
      this.o.log.warn('heartbeat failed', { jobId: this.o.jobId, ...describeError(error) });
    });
    return this.pending;
  }
}
