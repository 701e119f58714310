import { describeError, type Logger } from '@obelm/core';

/** How long one protection lasts; it is renewed at half that while the job runs. */
const protectionMinutes = 60;

/**
 * ECS task scale-in protection while any job is held: when the backlog shrinks, ECS stops an idle task, not
 * one in the middle of a job. Holds are counted (a worker runs several jobs at once): the task is protected
 * from the first hold and unprotected when the last one is released. It talks to the ECS agent at $ECS_AGENT_URI (set by ECS in every task);
 * without it (locally) it does nothing. Best effort: a failed request is logged and never fails a job.
 * Requests go out in order, one at a time, without holding up the job.
 */
export class TaskProtection {
  private renewal: NodeJS.Timeout | undefined;
  private holds = 0;
  private pending: Promise<void> = Promise.resolve();

  constructor(
    private readonly agentUri: string | undefined,
    private readonly log: Logger,
  ) {}

  /** A job was claimed: protect the task, and keep it protected until every hold is released. */
  hold(): void {
    this.holds++;
    if (!this.agentUri || this.renewal) return;
    this.send({ ProtectionEnabled: true, ExpiresInMinutes: protectionMinutes });
    this.renewal = setInterval(
      () => this.send({ ProtectionEnabled: true, ExpiresInMinutes: protectionMinutes }),
      (protectionMinutes / 2) * 60_000,
    );
    this.renewal.unref();
  }

  /** A job ended: once none is held, the task is idle and may be stopped. Resolves when the request is done. */
  release(): Promise<void> {
    this.holds = Math.max(0, this.holds - 1);
    if (this.holds > 0 || !this.agentUri || !this.renewal) return this.pending;
    clearInterval(this.renewal);
    this.renewal = undefined;
    this.send({ ProtectionEnabled: false });
    return this.pending;
  }

  private send(state: { ProtectionEnabled: boolean; ExpiresInMinutes?: number }): void {
    const url = `${this.agentUri}/task-protection/v1/state`;
    this.pending = this.pending.then(async () => {
      try {
        const res = await fetch(url, {
          method: 'PUT',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(state),
          signal: AbortSignal.timeout(5000),
        });
        // The agent answers 200 with `failure` in the body for some refusals (e.g. a task being stopped).
        const body = (await res.json().catch(() => ({}))) as { failure?: unknown; error?: unknown };
        if (!res.ok || body.failure || body.error) {
          this.log.warn('task protection refused', { state, status: res.status, body });
        }
      } catch (error) {
        this.log.warn('task protection request failed', { state, ...describeError(error) });
      }
    });
  }
}
