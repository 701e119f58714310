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

  /** A job was claimed (with the jobs received together with it, `group`): its ticket follows it to its end. */
  ticket(group?: AdmissionGroup): SlotTicket {
    const ticket = new SlotTicket(this, group);
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

/**
 * Jobs received together (a backlog: several messages in one receive) enter the model together, so that their
 * first eps calls meet in one batch. Without it the first job prefetched starts alone and the others join steps
 * later, and each step of lag is one more model call at the end of the group. A member counts until it is ready
 * to enter or gone (its claim or prefetch failed); the wait is bounded by `holdMs` from the first ready member
 * (OBELM_ADMISSION_HOLD_MS).
 */
export class AdmissionGroup {
  private waiting: number;
  private readonly opened: Promise<void>;
  private open!: () => void;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    size: number,
    private readonly holdMs: number,
  ) {
    this.waiting = size;
    this.opened = new Promise((resolve) => {
      this.open = () => {
        clearTimeout(this.timer);
        resolve();
      };
    });
  }

  /** This member is ready to enter: resolves when every member is ready or gone, or `holdMs` after the first. */
  ready(): Promise<void> {
    this.timer ??= setTimeout(() => this.open(), this.holdMs);
    this.count();
    return this.opened;
  }

  /** This member will not enter (its claim or its prefetch failed). */
  gone(): void {
    this.count();
  }

  private count(): void {
    if (--this.waiting <= 0) this.open();
  }
}

/** One claimed job's place in the slots. */
export class SlotTicket {
  private current: SlotPhase = 'prefetching';
  /** Still counted by its admission group (neither ready nor gone). */
  private grouped: boolean;

  constructor(
    private readonly slots: ModelSlots,
    private readonly group?: AdmissionGroup,
  ) {
    this.grouped = group !== undefined;
  }

  get phase(): SlotPhase {
    return this.current;
  }

  /** Waits for a model slot (prefetching -> model); rejects when `signal` aborts while waiting. */
  async enter(signal: AbortSignal): Promise<void> {
    if (this.current !== 'prefetching') throw new Error(`cannot enter a model slot from ${this.current}`);
    if (this.group && this.grouped) {
      this.grouped = false;
      await abortable(this.group.ready(), signal);
    }
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
    if (this.group && this.grouped) {
      this.grouped = false;
      this.group.gone();
    }
    this.leave();
    this.slots.forget(this);
    this.move('ended');
  }

  private move(phase: SlotPhase): void {
    this.current = phase;
    this.slots.wake();
  }
}

/** `wait`, or a rejection as soon as `signal` aborts. */
function abortable(wait: Promise<void>, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.reject(stoppedWaiting(signal));
  return new Promise((resolve, reject) => {
    const quit = () => reject(stoppedWaiting(signal));
    signal.addEventListener('abort', quit, { once: true });
    wait.then(() => {
      signal.removeEventListener('abort', quit);
      resolve();
    });
  });
}

function stoppedWaiting(signal: AbortSignal): Error {
  return new Error(`stopped while waiting for a model slot (${String(signal.reason)})`, {
    cause: signal.reason,
  });
}
