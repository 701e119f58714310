/**
 * onnxruntime-node sessions behind a small host-tensor interface. Callers hand in float64 (or already
 * typed) tensors; `cast.ts` converts them to what each model input declares, and float outputs come back
 * as float64.
 */
import * as ort from 'onnxruntime-node';
import { GraphBuilder } from '../onnx/graph.ts';
import type { OnnxDType } from '../onnx/tensor.ts';
import { castForInput, type HostTensor, widenOutput } from './cast.ts';
import { ModelError } from './errors.ts';

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
  let session: ort.InferenceSession;
  try {
    session = await createSession(modelPathOrBytes, provider, opts.threads);
  } catch (error) {
    throw loadFailed(modelPathOrBytes, error);
  }
  return new OrtModelSession(session, provider);
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
 * Opens a one-node model on `provider`: resolves to the error when the provider cannot load, else undefined.
 * A tiny model of our own, so a provider failure is never confused with a bad model file.
 */
function probeProvider(provider: ExecutionProvider): Promise<{ error: unknown } | undefined> {
  let probe = probes.get(provider);
  if (!probe) {
    probe = createSession(probeModel(), provider).then(
      async (session) => {
        await session.release();
        return undefined;
      },
      (error: unknown) => ({ error }),
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

function createSession(
  model: string | Uint8Array,
  provider: ExecutionProvider,
  threads = 1,
): Promise<ort.InferenceSession> {
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
  return typeof model === 'string'
    ? ort.InferenceSession.create(model, options)
    : ort.InferenceSession.create(model, options);
}

class OrtModelSession implements ModelSession {
  readonly inputs: ReadonlyMap<string, TensorInfo>;
  readonly outputs: ReadonlyMap<string, TensorInfo>;

  constructor(
    private readonly session: ort.InferenceSession,
    readonly provider: ExecutionProvider,
  ) {
    this.inputs = describe(session.inputMetadata);
    this.outputs = describe(session.outputMetadata);
  }

  async run(feeds: Record<string, HostTensor>): Promise<Record<string, HostTensor>> {
    const ortFeeds: Record<string, ort.Tensor> = {};
    for (const [name, info] of this.inputs) {
      const feed = feeds[name];
      if (!feed) throw new ModelError('runtime_bad_feed', `missing input '${name}'`);
      const t = castForInput(name, feed, info.dtype);
      ortFeeds[name] = new ort.Tensor(t.dtype, t.data, [...t.dims]);
    }
    for (const name of Object.keys(feeds)) {
      if (!this.inputs.has(name))
        throw new ModelError('runtime_bad_feed', `the model has no input '${name}'`);
    }
    const results = await this.session.run(ortFeeds);
    const out: Record<string, HostTensor> = {};
    for (const [name, value] of Object.entries(results)) {
      out[name] = widenOutput({ dtype: value.type, dims: value.dims, data: value.data } as HostTensor);
    }
    return out;
  }

  release(): Promise<void> {
    return this.session.release();
  }
}

function describe(metadata: readonly ort.InferenceSession.ValueMetadata[]): ReadonlyMap<string, TensorInfo> {
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
