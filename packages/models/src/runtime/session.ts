/**
 * onnxruntime-node sessions behind a small host-tensor interface. Callers hand in float64 (or already
 * typed) tensors; `cast.ts` converts them to what each model input declares, and float outputs come back
 * as float64. The sessions live in the process's session host thread (sessionThread.ts), so a model call
 * does not block this thread's event loop.
 */
import type { InferenceSession } from 'onnxruntime-node';
import { GraphBuilder } from '../onnx/graph.ts';
import type { OnnxDType } from '../onnx/tensor.ts';
import { castForInput, type HostTensor, widenOutput } from './cast.ts';
import { ModelError } from './errors.ts';
import type { OpenedSession } from './sessionProtocol.ts';
import { SessionHostDied, type SessionThread, sessionThread } from './sessionThread.ts';

export type { HostTensor } from './cast.ts';

export type ExecutionProvider = 'cpu' | 'cuda' | 'webgpu';

export interface RuntimeOptions {
  provider: ExecutionProvider;
  /**
   * What to do when the requested GPU provider cannot load here: throw a ModelError `provider_unavailable`
   * (the default: a GPU machine with broken CUDA libraries must fail loudly, not run on one CPU thread), or,
   * when true, run on the CPU provider with a warning through `logger`.
   */
  cpuFallback?: boolean;
  /** Intra-op threads; fixed (default 1) so results do not depend on the machine's core count. */
  threads?: number;
  logger?: (msg: string) => void;
}

/** What a model input or output declares. Symbolic dims are strings ('batch'). */
export interface TensorInfo {
  readonly dtype: OnnxDType;
  readonly dims: readonly (number | string)[];
}

export interface ModelSession {
  /** The provider actually in use (after an allowed fallback to cpu). */
  readonly provider: ExecutionProvider;
  readonly inputs: ReadonlyMap<string, TensorInfo>;
  readonly outputs: ReadonlyMap<string, TensorInfo>;
  /** One inference call; every declared input must be fed. */
  run(feeds: Record<string, HostTensor>): Promise<Record<string, HostTensor>>;
  release(): Promise<void>;
}

const SUPPORTED_DTYPES = new Set<string>(['float32', 'float16', 'int64', 'int32', 'float64']);

/**
 * Opens a model file or in-memory model. A requested GPU provider that cannot load (no CUDA libraries, no
 * WebGPU adapter) is a ModelError `provider_unavailable`, or the CPU provider with a warning when
 * `opts.cpuFallback`; a model that cannot load on a working provider is `runtime_load_failed`.
 */
export async function openSession(
  modelPathOrBytes: string | Uint8Array,
  opts: RuntimeOptions,
): Promise<ModelSession> {
  const provider = await usableProvider(opts);
  const host = sessionThread();
  let opened: OpenedSession;
  try {
    opened = await openInHost(host, modelPathOrBytes, provider, opts.threads);
  } catch (error) {
    throw error instanceof SessionHostDied ? error : loadFailed(modelPathOrBytes, error);
  }
  try {
    return new ThreadModelSession(
      { host, id: opened.session },
      { model: ownCopy(modelPathOrBytes), provider, threads: opts.threads },
      describe(opened.inputs),
      describe(opened.outputs),
    );
  } catch (error) {
    // The metadata's error is the one to report; a failure to free the unusable session adds nothing.
    await host.call('release', { session: opened.session }).catch(() => undefined);
    throw error;
  }
}

const PROVIDER_NAMES: Record<ExecutionProvider, string> = { cpu: 'CPU', cuda: 'CUDA', webgpu: 'WebGPU' };

/** The provider sessions open with: the requested one when it loads here, else 'cpu' if the caller allows it. */
async function usableProvider(opts: RuntimeOptions): Promise<ExecutionProvider> {
  const requested = opts.provider;
  if (requested === 'cpu') return requested;
  const failure = await probeProvider(requested);
  if (!failure) return requested;
  const reason = firstLine(failure.error);
  if (!opts.cpuFallback) {
    throw new ModelError(
      'provider_unavailable',
      `${PROVIDER_NAMES[requested]} execution provider failed to load: ${reason}; refusing to run on CPU`,
      { cause: failure.error },
    );
  }
  opts.logger?.(`onnxruntime: provider '${requested}' is unavailable (${reason}); using 'cpu'`);
  return 'cpu';
}

/** One probe per provider and process: whether a provider's libraries and device load does not change. */
const probes = new Map<ExecutionProvider, Promise<{ error: unknown } | undefined>>();

/**
 * Opens a one-node model on `provider` in the session host: resolves to the error when the provider cannot
 * load, else undefined. A tiny model of our own, so a provider failure is never confused with a bad model file.
 * A host that died while probing says nothing about the provider: that is not remembered.
 */
function probeProvider(provider: ExecutionProvider): Promise<{ error: unknown } | undefined> {
  let probe = probes.get(provider);
  if (!probe) {
    const host = sessionThread();
    probe = openInHost(host, probeModel(), provider).then(
      async ({ session }) => {
        // The provider loaded: a host that dies before the probe is freed says nothing against it.
        await host.call('release', { session }).catch(() => undefined);
        return undefined;
      },
      (error: unknown) => {
        if (error instanceof SessionHostDied) {
          probes.delete(provider);
          throw error;
        }
        return { error };
      },
    );
    probes.set(provider, probe);
  }
  return probe;
}

function probeModel(): Uint8Array {
  const g = new GraphBuilder('provider_probe');
  g.node('Identity', [g.input('x', 'float32', [1])], {}, 'y');
  g.output('y', 'float32', [1]);
  return g.toBytes();
}

/** Model bytes go as a copy of their own (the caller keeps its buffer; a view's larger buffer is not sent). */
function openInHost(
  host: SessionThread,
  model: string | Uint8Array,
  provider: ExecutionProvider,
  threads = 1,
): Promise<OpenedSession> {
  if (typeof model === 'string') return host.call('open', { model, provider, threads });
  const bytes = model.slice();
  return host.call('open', { model: bytes, provider, threads }, [bytes.buffer]);
}

/** A session's id in the host thread that holds it. */
interface HostedSession {
  readonly host: SessionThread;
  readonly id: number;
}

/** What a session was opened from, to open it again in a fresh host. */
interface SessionSource {
  readonly model: string | Uint8Array;
  readonly provider: ExecutionProvider;
  readonly threads: number | undefined;
}

/** `model` itself when a path; a copy when bytes, so the caller's buffer may change after openSession. */
const ownCopy = (model: string | Uint8Array) => (typeof model === 'string' ? model : model.slice());

class ThreadModelSession implements ModelSession {
  #released = false;
  /** Where the session is now. */
  #hosted: HostedSession;
  /** Its opening in a fresh host after the last one died, while under way (shared by concurrent calls). */
  #reopening: Promise<HostedSession> | undefined;

  constructor(
    hosted: HostedSession,
    private readonly source: SessionSource,
    readonly inputs: ReadonlyMap<string, TensorInfo>,
    readonly outputs: ReadonlyMap<string, TensorInfo>,
  ) {
    this.#hosted = hosted;
  }

  get provider(): ExecutionProvider {
    return this.source.provider;
  }

  /**
   * The session in a live host: at once while its host lives. Calls in flight when a host dies fail with
   * SessionHostDied (their job is retried); the next call opens the session again in a fresh host, so a process
   * whose host thread died recovers without reloading its models. A failed reopening is that call's error; the
   * next call tries again.
   */
  #live(): HostedSession | Promise<HostedSession> {
    if (this.#hosted.host.alive) return this.#hosted;
    this.#reopening ??= (async () => {
      const host = sessionThread();
      const { model, provider, threads } = this.source;
      const opened = await openInHost(host, model, provider, threads);
      this.#hosted = { host, id: opened.session };
      return this.#hosted;
    })().finally(() => {
      this.#reopening = undefined;
    });
    return this.#reopening;
  }

  async run(feeds: Record<string, HostTensor>): Promise<Record<string, HostTensor>> {
    if (this.#released) throw new Error('run on a released onnxruntime session');
    const hostFeeds: Record<string, HostTensor> = {};
    const transfer: ArrayBuffer[] = [];
    for (const [name, info] of this.inputs) {
      const feed = feeds[name];
      if (!feed) throw new ModelError('runtime_bad_feed', `missing input '${name}'`);
      const cast = castForInput(name, feed, info.dtype);
      // A cast made a fresh array: it moves to the host. Uncast, it is the caller's own: a copy moves instead.
      const owned = cast.data === feed.data ? copyOf(cast) : cast;
      hostFeeds[name] = owned;
      transfer.push(owned.data.buffer as ArrayBuffer);
    }
    for (const name of Object.keys(feeds)) {
      if (!this.inputs.has(name))
        throw new ModelError('runtime_bad_feed', `the model has no input '${name}'`);
    }
    const live = this.#live();
    // No await while the host lives: the call is posted now, in this turn.
    const { host, id } = live instanceof Promise ? await live : live;
    const results = await host.call('run', { session: id, feeds: hostFeeds }, transfer);
    const out: Record<string, HostTensor> = {};
    // Widened here, not in the host: the host then loads no models code (cast.ts needs @obelm/core).
    for (const [name, value] of Object.entries(results)) out[name] = widenOutput(value);
    return out;
  }

  async release(): Promise<void> {
    if (this.#released) return;
    this.#released = true;
    await this.#reopening?.catch(() => undefined);
    const { host, id } = this.#hosted;
    if (!host.alive) return;
    await host.call('release', { session: id }).catch((error: unknown) => {
      // A dead host took its sessions with it: nothing is left to free.
      if (!(error instanceof SessionHostDied)) throw error;
    });
  }
}

function copyOf(t: HostTensor): HostTensor {
  return { dtype: t.dtype, dims: [...t.dims], data: t.data.slice() } as HostTensor;
}

function describe(metadata: readonly InferenceSession.ValueMetadata[]): ReadonlyMap<string, TensorInfo> {
  const map = new Map<string, TensorInfo>();
  for (const m of metadata) {
    if (!m.isTensor || !SUPPORTED_DTYPES.has(m.type)) {
      throw new ModelError('runtime_load_failed', `model value '${m.name}' has an unsupported type`);
    }
    map.set(m.name, { dtype: m.type as OnnxDType, dims: m.shape });
  }
  return map;
}

function loadFailed(model: string | Uint8Array, error: unknown): ModelError {
  const what = typeof model === 'string' ? model : `${model.length}-byte model`;
  return new ModelError('runtime_load_failed', `cannot load ${what}: ${firstLine(error)}`, { cause: error });
}

function firstLine(error: unknown): string {
  return String(error instanceof Error ? error.message : error).split('\n')[0]!;
}
