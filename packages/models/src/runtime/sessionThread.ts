/**
 * The main side of the session host (sessionHost.ts): one thread per process, started on first use and shared by
 * every session (a GPU runs one call at a time, in one CUDA context). Calls are posted with an id and answered
 * by id. The thread keeps the process alive only while a call is pending, so an idle process still exits.
 */
import type { TransferListItem, Worker } from 'node:worker_threads';
import { deviceTimeMeter } from './deviceTime.ts';
import { startSessionHost } from './sessionHostEntry.ts';
import {
  GATE_BUSY,
  GATE_CLOSING,
  GATE_IDLE,
  type HostCall,
  type HostCalls,
  type HostReply,
  type HostRequest,
} from './sessionProtocol.ts';

/** A call to, or a session of, a session host thread that has died (crashed, exited or was stopped). */
export class SessionHostDied extends Error {
  override readonly name = 'SessionHostDied';
}

interface Pending {
  resolve(result: unknown): void;
  reject(error: Error): void;
  /** Where the call's device time goes: the measurement it was made in (deviceTime.ts), if any. */
  meter: ((ms: number) => void) | undefined;
}

export class SessionThread {
  readonly #gate = new Int32Array(new SharedArrayBuffer(4));
  readonly #worker: Worker;
  readonly #pending = new Map<number, Pending>();
  #lastId = 0;
  /** Why the thread died (or is being stopped); undefined while it runs. */
  #death: string | undefined;
  #exited = false;

  constructor() {
    this.#worker = startSessionHost(this.#gate.buffer as SharedArrayBuffer);
    this.#worker.unref();
    this.#worker.on('message', (reply: HostReply) => this.#settle(reply));
    this.#worker.on('error', (error) => this.#die(`failed: ${error.message}`));
    this.#worker.on('exit', (code) => {
      this.#exited = true;
      this.#die(`exited with code ${code}`);
    });
    // A reply that cannot be read leaves its call unanswerable: end the thread rather than hang the call.
    this.#worker.on('messageerror', (error) => void this.stop(`sent an unreadable reply: ${error.message}`));
  }

  get alive(): boolean {
    return this.#death === undefined;
  }

  /** Sends one call; `transfer` lists buffers moved to the host (the caller must not own them). */
  call<K extends HostCall>(
    call: K,
    args: HostCalls[K]['args'],
    transfer: readonly TransferListItem[] = [],
  ): Promise<HostCalls[K]['result']> {
    if (this.#death !== undefined) return Promise.reject(this.#died());
    const id = ++this.#lastId;
    try {
      this.#worker.postMessage({ id, call, args } as HostRequest, transfer);
    } catch (error) {
      return Promise.reject(error);
    }
    if (this.#pending.size === 0) this.#worker.ref();
    const meter = deviceTimeMeter();
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve: resolve as Pending['resolve'], reject, meter });
    });
  }

  /**
   * Ends the thread: pending calls reject at once, its sessions are gone. Waits (blocking) for a native call
   * in progress to return first: ending the thread inside one would abort the process.
   */
  async stop(reason = 'was stopped'): Promise<void> {
    this.#die(reason);
    this.closeGate();
    await this.#worker.terminate();
  }

  /**
   * Blocks until the host is between calls, then keeps it from starting another (see the gate's note). At most
   * GATE_WAIT_LIMIT_MS: a thread that died inside a call (its heap exhausted) leaves the gate BUSY for good, and
   * its exit event cannot arrive while this thread blocks; a process exit must not hang on it.
   */
  closeGate(): void {
    const giveUpAt = performance.now() + GATE_WAIT_LIMIT_MS;
    while (!this.#exited && Atomics.compareExchange(this.#gate, 0, GATE_IDLE, GATE_CLOSING) === GATE_BUSY) {
      const left = giveUpAt - performance.now();
      if (left <= 0) return;
      Atomics.wait(this.#gate, 0, GATE_BUSY, left);
    }
  }

  #settle(reply: HostReply): void {
    const pending = this.#pending.get(reply.id);
    if (!pending) return;
    this.#pending.delete(reply.id);
    if (this.#pending.size === 0) this.#worker.unref();
    if (reply.ms !== undefined) pending.meter?.(reply.ms);
    if ('error' in reply) {
      const error = new Error(reply.error.message);
      if (reply.error.name !== 'Error') error.name = reply.error.name;
      pending.reject(error);
    } else {
      pending.resolve(reply.result);
    }
  }

  #die(reason: string): void {
    if (this.#death !== undefined) return;
    this.#death = reason;
    this.#worker.unref();
    for (const pending of this.#pending.values()) pending.reject(this.#died());
    this.#pending.clear();
  }

  #died(): SessionHostDied {
    return new SessionHostDied(`the onnxruntime session host thread ${this.#death}`);
  }
}

/** Longer than any one model call (a large batch on a GPU takes seconds); a stuck gate stops blocking after it. */
const GATE_WAIT_LIMIT_MS = 60_000;

let current: SessionThread | undefined;

/** The process's session host thread; a fresh one when there is none yet or the last one died. */
export function sessionThread(): SessionThread {
  if (!current?.alive) {
    // Node ends the thread after the 'exit' listeners: let a call in progress return first (see the gate).
    if (!current) process.once('exit', () => current?.closeGate());
    current = new SessionThread();
  }
  return current;
}

/** Stops the session host thread, if one runs: every session opened so far is gone. */
export async function stopSessionThread(): Promise<void> {
  const thread = current;
  await thread?.stop();
}
