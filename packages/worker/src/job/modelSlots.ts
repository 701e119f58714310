/**
 * Where a claimed job is on its way through the worker: `prefetching` (model, inputs and checkpoint loading,
 * then waiting for a model slot), `model` (its pipeline runs, holding a slot), `finishing` (outputs, report,
 * final transition and message delete: off the model's path), `ended`.
 */
export type SlotPhase = 'prefetching' | 'model' | 'finishing' | 'ended';

/**
 * The worker's model slots: at most `size` jobs run their pipelines at once (their model calls merged by the
 * model's batcher); the others wait in line, first come first served. Every change of phase is announced, so the
 * consumer loop can poll again as soon as there is room.
 */
export class ModelSlots {
  private readonly tickets = new Set<SlotTicket>();
  private readonly queue: (() => void)[] = [];
  private holders = 0;
  private listeners: (() => void)[] = [];

  constructor(readonly size: number) {}

  /** A job was claimed: its ticket follows it to its end. */
  ticket(): SlotTicket {
    const ticket = new SlotTicket(this);
    this.tickets.add(ticket);
    this.wake();
    return ticket;
  }

  /** How many jobs are in `phase` now. */
  count(phase: SlotPhase): number {
    let n = 0;
    for (const ticket of this.tickets) if (ticket.phase === phase) n++;
    return n;
  }

  /** Resolves at the next change of any job's phase, or at wake(). */
  nextChange(): Promise<void> {
    return new Promise((resolve) => this.listeners.push(resolve));
  }

  /** @internal Waits for a free slot; rejects when `signal` aborts first (the job is stopping). */
  acquire(signal: AbortSignal): Promise<void> {
    if (signal.aborted) return Promise.reject(stoppedWaiting(signal));
    if (this.holders < this.size && this.queue.length === 0) {
      this.holders++;
      return Promise.resolve();
    }
    return new Promise((resolve, reject) => {
      const grant = () => {
        signal.removeEventListener('abort', quit);
        resolve();
      };
      const quit = () => {
        const index = this.queue.indexOf(grant);
        if (index >= 0) this.queue.splice(index, 1);
        reject(stoppedWaiting(signal));
      };
      signal.addEventListener('abort', quit, { once: true });
      this.queue.push(grant);
    });
  }

  /** @internal A holder is done with its slot: the next in line takes it at once. */
  release(): void {
    const next = this.queue.shift();
    if (next) next();
    else this.holders--;
  }

  /** @internal */
  forget(ticket: SlotTicket): void {
    this.tickets.delete(ticket);
  }

  /** Resolves every nextChange() now (the worker is stopping: its loop must look again). */
  wake(): void {
    const listeners = this.listeners;
    this.listeners = [];
    for (const listener of listeners) listener();
  }
}

/** One claimed job's place in the slots. */
export class SlotTicket {
  private current: SlotPhase = 'prefetching';

  constructor(private readonly slots: ModelSlots) {}

  get phase(): SlotPhase {
    return this.current;
  }

  /** Waits for a model slot (prefetching -> model); rejects when `signal` aborts while waiting. */
  async enter(signal: AbortSignal): Promise<void> {
    if (this.current !== 'prefetching') throw new Error(`cannot enter a model slot from ${this.current}`);
    await this.slots.acquire(signal);
    this.move('model');
  }

  /** The pipeline is done, whatever its outcome: the slot goes to the next job (model -> finishing). */
  leave(): void {
    if (this.current !== 'model') return;
    this.slots.release();
    this.move('finishing');
  }

  /** The job has ended; a slot still held is given back. */
  end(): void {
    if (this.current === 'ended') return;
    this.leave();
    this.slots.forget(this);
    this.move('ended');
  }

  private move(phase: SlotPhase): void {
    this.current = phase;
    this.slots.wake();
  }
}

function stoppedWaiting(signal: AbortSignal): Error {
  return new Error(`stopped while waiting for a model slot (${String(signal.reason)})`, {
    cause: signal.reason,
  });
}
