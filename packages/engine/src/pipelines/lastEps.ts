import { EngineError } from '../errors.ts';
import { namedStateArrays, type StateTensor } from '../samplers/state.ts';
import { withBatch } from '../tensor.ts';
import type { EpsPredictor, SamplerState } from '../types.ts';
import { embedder, guided } from './guided.ts';
import { stateBatch } from './images.ts';
import type { DiffusionModel } from './model.ts';

/**
 * The guided eps a run's last model call returned, with where it was evaluated: an array its end state holds and
 * the model timestep. Exactness is a property of the hardware (docs/math.md §10): recomputing this eps on other
 * hardware and comparing measures how far that hardware's eps drifts from the maker's.
 */
export interface LastEps {
  readonly at: StateTensor;
  readonly timestep: number;
  readonly eps: Float64Array;
}

/** A predictor's last call, as it was made. */
interface EpsCall {
  readonly x: Float64Array;
  readonly t: number;
  readonly eps: Float64Array;
}

/** Wraps a predictor to remember its last call; the answers pass through untouched. */
export function recordingLastCall(eps: EpsPredictor): { eps: EpsPredictor; last(): EpsCall | undefined } {
  let last: EpsCall | undefined;
  return {
    eps: async (x, t, signal) => {
      const out = await eps(x, t, signal);
      last = { x: x.data, t, eps: out };
      return out;
    },
    last: () => last,
  };
}

/**
 * The last call as a LastEps of the run's end state, or undefined when it was not evaluated at an array that state
 * holds (DDIM keeps x_0 alone; EDICT's last sampling call is at an intermediate). Samplers pass their state arrays
 * to the model as they are, so the array is found by identity: O-BELM and BDIA inverting evaluate at the lower
 * state of the end pair (x_{N-1}), sampling at its upper (x_1); EDICT inverting at its y.
 */
export function lastEpsOf(call: EpsCall | undefined, end: SamplerState): LastEps | undefined {
  if (!call) return undefined;
  const at = namedStateArrays(end).find(([, array]) => array === call.x)?.[0];
  return at === undefined ? undefined : { at, timestep: call.t, eps: call.eps };
}

export interface EpsAtRequest {
  /** The state holding the array eps is evaluated at. */
  readonly state: SamplerState;
  readonly at: StateTensor;
  readonly timestep: number;
  /** The field the eps is guided in: the prompt, the negative prompt and the CFG scale of the run that made it. */
  readonly prompt: string;
  readonly negativePrompt: string;
  readonly guidance: number;
  readonly signal?: AbortSignal;
}

/** The guided eps this model gives at one array of a state: one model call, as the pipelines make it. */
export async function epsAt(model: DiffusionModel, req: EpsAtRequest): Promise<Float64Array> {
  const x = namedStateArrays(req.state).find(([name]) => name === req.at)?.[1];
  if (!x) {
    throw new EngineError('invalid_state', `a ${req.state.kind} state has no array '${req.at}'`);
  }
  const eps = await guided(model, embedder(model, req.signal), req.prompt, req.negativePrompt, req.guidance);
  const shape = withBatch(model.latentShape, stateBatch(model, req.state));
  return eps({ data: x, shape }, req.timestep, req.signal);
}
