/**
 * onnxruntime-node sessions behind a small host-tensor interface. Callers hand in float64 (or already
 * typed) tensors; `cast.ts` converts them to what each model input declares, and float outputs come back
 * as float64.
 */
import * as ort from 'onnxruntime-node';
import type { OnnxDType } from '../onnx/tensor.ts';
import { castForInput, type HostTensor, widenOutput } from './cast.ts';
import { ModelError } from './errors.ts';

export type { HostTensor } from './cast.ts';

export type ExecutionProvider = 'cpu' | 'cuda' | 'webgpu';

export interface RuntimeOptions {
  provider: ExecutionProvider;
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
  /** The provider actually in use (after any fallback). */
  readonly provider: ExecutionProvider;
  readonly inputs: ReadonlyMap<string, TensorInfo>;
  readonly outputs: ReadonlyMap<string, TensorInfo>;
  /** One inference call; every declared input must be fed. */
  run(feeds: Record<string, HostTensor>): Promise<Record<string, HostTensor>>;
  release(): Promise<void>;
}

const SUPPORTED_DTYPES = new Set<string>(['float32', 'float16', 'int64', 'int32', 'float64']);

/**
 * Opens a model file or in-memory model. An unavailable provider (no CUDA libraries, no WebGPU adapter)
 * falls back to the CPU provider with a warning through `opts.logger`.
 */
export async function openSession(
  modelPathOrBytes: string | Uint8Array,
  opts: RuntimeOptions,
): Promise<ModelSession> {
  let provider = opts.provider;
  let session: ort.InferenceSession;
  try {
    session = await createSession(modelPathOrBytes, provider, opts.threads);
  } catch (error) {
    if (provider === 'cpu') throw loadFailed(modelPathOrBytes, error);
    opts.logger?.(`onnxruntime: provider '${provider}' is unavailable (${firstLine(error)}); using 'cpu'`);
    provider = 'cpu';
    try {
      session = await createSession(modelPathOrBytes, provider, opts.threads);
    } catch (cpuError) {
      throw loadFailed(modelPathOrBytes, cpuError);
    }
  }
  return new OrtModelSession(session, provider);
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
