/**
 * The session host: the worker thread that owns every onnxruntime session of a process. onnxruntime-node runs a
 * session synchronously on the calling thread, so calls made here leave the main thread's event loop free for
 * the work that should overlap a model call. Requests are answered one at a time, in the order they arrive.
 * Started by sessionThread.ts; all typed errors are made on the main side, so this file stays plain plumbing.
 */
import { parentPort, workerData } from 'node:worker_threads';
import * as ort from 'onnxruntime-node';
import type { HostTensor } from './cast.ts';
import {
  GATE_BUSY,
  GATE_IDLE,
  type HostCalls,
  type HostReply,
  type HostRequest,
  type OpenedSession,
  type WireError,
} from './sessionProtocol.ts';

if (!parentPort) throw new Error('sessionHost.ts runs as a worker thread (see sessionThread.ts)');
const port = parentPort;
const gate = new Int32Array(workerData as SharedArrayBuffer);

const sessions = new Map<number, ort.InferenceSession>();
let lastSessionId = 0;
let answered: Promise<void> = Promise.resolve();

port.on('message', (request: HostRequest) => {
  answered = answered.then(() => answer(request));
});

async function answer(request: HostRequest): Promise<void> {
  let reply: HostReply;
  let transfer: ArrayBuffer[] = [];
  const started = performance.now();
  try {
    if (Atomics.compareExchange(gate, 0, GATE_IDLE, GATE_BUSY) !== GATE_IDLE) {
      throw new Error('the session host is closing');
    }
    let result: unknown;
    try {
      [result, transfer] = await handle(request);
    } finally {
      Atomics.store(gate, 0, GATE_IDLE);
      Atomics.notify(gate, 0);
    }
    reply = { id: request.id, result };
  } catch (error) {
    reply = { id: request.id, error: wireError(error) };
  }
  // An inference's time here is the device time it is billed (deviceTime.ts), failed or not; opening and
  // releasing sessions are billed to no job.
  if (request.call === 'run') reply.ms = performance.now() - started;
  try {
    port.postMessage(reply, transfer);
  } catch (error) {
    // A result that cannot cross (it would not clone): the call still gets an answer, its error.
    port.postMessage({ id: request.id, error: wireError(error) } satisfies HostReply);
  }
}

async function handle(request: HostRequest): Promise<[unknown, ArrayBuffer[]]> {
  switch (request.call) {
    case 'open':
      return [await open(request.args), []];
    case 'run':
      return run(request.args);
    case 'release':
      await sessionById(request.args.session).release();
      sessions.delete(request.args.session);
      return [null, []];
  }
}

async function open({ model, provider, threads }: HostCalls['open']['args']): Promise<OpenedSession> {
  // Deterministic settings: one execution order, a fixed thread count, a fixed optimisation level.
  const options: ort.InferenceSession.SessionOptions = {
    executionProviders: [provider],
    executionMode: 'sequential',
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
    logSeverityLevel: 3,
  };
  // Two overloads of `create`, hence the branch.
  const session =
    typeof model === 'string'
      ? await ort.InferenceSession.create(model, options)
      : await ort.InferenceSession.create(model, options);
  const id = ++lastSessionId;
  sessions.set(id, session);
  return { session: id, inputs: session.inputMetadata, outputs: session.outputMetadata };
}

async function run({
  session,
  feeds,
}: HostCalls['run']['args']): Promise<[HostCalls['run']['result'], ArrayBuffer[]]> {
  const ortFeeds: Record<string, ort.Tensor> = {};
  for (const [name, t] of Object.entries(feeds)) ortFeeds[name] = new ort.Tensor(t.dtype, t.data, t.dims);
  const results = await sessionById(session).run(ortFeeds);
  const out: Record<string, HostTensor> = {};
  const transfer: ArrayBuffer[] = [];
  for (const [name, value] of Object.entries(results)) {
    // The session's metadata was checked on the main side: every output is one of HostTensor's types.
    let data = value.data as HostTensor['data'];
    // Move a buffer only when the array is all of it, and only once; otherwise send a copy that is.
    if (
      data.byteOffset !== 0 ||
      data.byteLength !== data.buffer.byteLength ||
      transfer.includes(data.buffer as ArrayBuffer)
    ) {
      data = data.slice();
    }
    transfer.push(data.buffer as ArrayBuffer);
    out[name] = { dtype: value.type, dims: value.dims, data } as HostTensor;
  }
  return [out, transfer];
}

function sessionById(id: number): ort.InferenceSession {
  const session = sessions.get(id);
  if (!session) throw new Error(`onnxruntime session ${id} is not open`);
  return session;
}

function wireError(error: unknown): WireError {
  return error instanceof Error
    ? { name: error.name, message: error.message }
    : { name: 'Error', message: String(error) };
}
