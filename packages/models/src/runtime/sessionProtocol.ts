/**
 * The messages between the main thread (sessionThread.ts) and the session host thread (sessionHost.ts).
 * Types only: the host imports nothing of the models package at run time, so it starts without loading it.
 */
import type { InferenceSession } from 'onnxruntime-node';
import type { HostTensor } from './cast.ts';
import type { ExecutionProvider } from './session.ts';

/** Each call the host answers: its arguments and its result. */
export interface HostCalls {
  /** Creates a session with the deterministic options; `model` is a path or bytes of the caller's copy. */
  open: {
    args: { model: string | Uint8Array; provider: ExecutionProvider; threads: number };
    result: OpenedSession;
  };
  /** One inference; feeds are already of the declared input types, outputs come back as onnxruntime gives them. */
  run: {
    args: { session: number; feeds: Record<string, HostTensor> };
    result: Record<string, HostTensor>;
  };
  release: { args: { session: number }; result: null };
}

export type HostCall = keyof HostCalls;

export interface OpenedSession {
  /** The host's id of the session, for the calls that follow. */
  session: number;
  inputs: readonly InferenceSession.ValueMetadata[];
  outputs: readonly InferenceSession.ValueMetadata[];
}

export type HostRequest = {
  [K in HostCall]: { id: number; call: K; args: HostCalls[K]['args'] };
}[HostCall];

/** `ms`: the host's time on an inference, the device time it is billed (deviceTime.ts); absent for other calls. */
export type HostReply =
  | { id: number; result: unknown; ms?: number }
  | { id: number; error: WireError; ms?: number };

/** An error as it crosses threads (an Error's class and cause do not survive a structured clone). */
export interface WireError {
  name: string;
  message: string;
}

/**
 * The host's gate, one Int32 in a SharedArrayBuffer (the thread's workerData). A thread ended while onnxruntime
 * is inside a native call aborts the whole process (the addon throws a C++ exception into a terminating
 * isolate), so the host holds the gate BUSY through each call, and the main side, before it ends the thread
 * (stopping it, or process exit), waits for IDLE and sets CLOSING: the host starts no call after that.
 */
export const GATE_IDLE = 0;
export const GATE_BUSY = 1;
export const GATE_CLOSING = 2;
