/**
 * What a UNet predicts, and its exact conversion to the eps every sampler here works with. The conversion runs
 * in float64 on the float64 state, so eps stays a deterministic function of (x_t, t) and O-BELM's inversion of
 * a v-prediction model is as exact as of an eps one (docs/math.md).
 */
import { alphasCumprod, type ScheduleConfig } from '@obelm/engine';

/** diffusers' `prediction_type` values obelm runs ('sample', predicting x_0, is refused at load). */
export type PredictionType = 'epsilon' | 'v_prediction';
export const PREDICTION_TYPES: readonly PredictionType[] = ['epsilon', 'v_prediction'];

/** Turns a model output at training timestep t (on the batch x_t) into eps, in place of a fresh array. */
export type EpsFromOutput = (output: Float64Array, x: Float64Array, t: number) => Float64Array;

/**
 * The converter of a model trained with `prediction` on `schedule`. With v = sqrt(abar_t) eps - sqrt(1 - abar_t) x_0
 * and x_t = sqrt(abar_t) x_0 + sqrt(1 - abar_t) eps (Salimans & Ho 2022), eps = sqrt(abar_t) v + sqrt(1 - abar_t) x_t.
 */
export function epsFromOutput(prediction: PredictionType, schedule: ScheduleConfig): EpsFromOutput {
  if (prediction === 'epsilon') return (output) => output;
  const abar = alphasCumprod(schedule);
  return (v, x, t) => {
    if (v.length !== x.length) throw new Error(`v has ${v.length} values for a state of ${x.length}`);
    const a = Math.sqrt(abar[t]!);
    const s = Math.sqrt(1 - abar[t]!);
    const eps = new Float64Array(v.length);
    for (let i = 0; i < v.length; i++) eps[i] = a * v[i]! + s * x[i]!;
    return eps;
  };
}
