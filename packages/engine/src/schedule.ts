import { EngineError } from './errors.ts';
import type { ScheduleConfig } from './pipelines/model.ts';

/** The SD 1.x / 2.x training schedule, linspace timesteps and the official abar_0 = 1 (docs/math.md §1). */
export const SD_SCHEDULE: ScheduleConfig = {
  betaSchedule: 'scaled_linear',
  betaStart: 0.00085,
  betaEnd: 0.012,
  trainTimesteps: 1000,
  spacing: 'linspace',
  stepsOffset: 0,
  finalAbar: 'one',
};

/** numpy.linspace(start, stop, num): start + i * step with the endpoint set exactly (docs/math.md §1.1). */
export function linspace(start: number, stop: number, num: number): Float64Array {
  const out = new Float64Array(num);
  const step = (stop - start) / (num - 1);
  for (let i = 0; i < num; i++) out[i] = i * step + start;
  if (num > 1) out[num - 1] = stop;
  return out;
}

/** Round half to even (numpy's `round`); Math.round turns 832.5 into 833 (docs/math.md §1.2, N = 19). */
export function roundHalfEven(x: number): number {
  const floor = Math.floor(x);
  const diff = x - floor;
  if (diff < 0.5) return floor;
  if (diff > 0.5) return floor + 1;
  return floor % 2 === 0 ? floor : floor + 1;
}

/**
 * alphas_cumprod in float64 (docs/math.md §1.1): scaled_linear betas are linspace(sqrt(b0), sqrt(b1), T)^2,
 * linear betas linspace(b0, b1, T); abar_t = prod_{s<=t} (1 - beta_s), multiplied left to right.
 */
export function alphasCumprod(config: ScheduleConfig): Float64Array {
  const { betaSchedule, betaStart, betaEnd, trainTimesteps: T } = config;
  if (!Number.isInteger(T) || T < 2) {
    throw new EngineError('invalid_schedule', `trainTimesteps must be an integer >= 2, got ${T}`);
  }
  if (!(betaStart > 0 && betaEnd < 1 && betaStart <= betaEnd)) {
    throw new EngineError(
      'invalid_schedule',
      `need 0 < betaStart <= betaEnd < 1, got ${betaStart}, ${betaEnd}`,
    );
  }
  let betas: Float64Array;
  if (betaSchedule === 'scaled_linear') {
    betas = linspace(Math.sqrt(betaStart), Math.sqrt(betaEnd), T).map((r) => r * r);
  } else if (betaSchedule === 'linear') {
    betas = linspace(betaStart, betaEnd, T);
  } else {
    throw new EngineError('invalid_schedule', `unknown beta schedule '${betaSchedule}'`);
  }
  const abar = new Float64Array(T);
  let prod = 1;
  for (let t = 0; t < T; t++) {
    prod *= 1 - betas[t]!;
    abar[t] = prod;
  }
  return abar;
}

/**
 * The model timesteps tau_N > ... > tau_1 in descending order (docs/math.md §1.2):
 * - linspace: round_half_even(linspace(0, T-1, N)), no offset (as diffusers);
 * - leading: k * (T div N) + stepsOffset, k = 0..N-1;
 * - trailing: round_half_even(T - k * T/N) - 1, k = 0..N-1 (numpy's arange(T, 0, -T/N)).
 */
export function inferenceTimesteps(config: ScheduleConfig, steps: number): number[] {
  const T = config.trainTimesteps;
  if (!Number.isInteger(steps) || steps < 2 || steps > Math.min(1000, T)) {
    throw new EngineError(
      'invalid_steps',
      `steps must be an integer in [2, ${Math.min(1000, T)}], got ${steps}`,
    );
  }
  const ascending: number[] = [];
  switch (config.spacing) {
    case 'linspace':
      for (const v of linspace(0, T - 1, steps)) ascending.push(roundHalfEven(v));
      break;
    case 'leading': {
      const ratio = Math.floor(T / steps);
      for (let k = 0; k < steps; k++) ascending.push(k * ratio + config.stepsOffset);
      break;
    }
    case 'trailing': {
      const ratio = T / steps;
      for (let k = steps - 1; k >= 0; k--) ascending.push(roundHalfEven(T - k * ratio) - 1);
      break;
    }
    default:
      throw new EngineError('invalid_schedule', `unknown timestep spacing '${String(config.spacing)}'`);
  }
  const descending = ascending.reverse();
  for (let k = 0; k < descending.length; k++) {
    const t = descending[k]!;
    if (!Number.isInteger(t) || t < 0 || t >= T || (k > 0 && t >= descending[k - 1]!)) {
      throw new EngineError(
        'invalid_schedule',
        `timesteps must be distinct and in [0, ${T}): got ${descending}`,
      );
    }
  }
  return descending;
}
