import { EngineError } from './errors.ts';
import type { ScheduleConfig } from './pipelines/model.ts';
import { alphasCumprod, inferenceTimesteps } from './schedule.ts';
import type { Grid } from './types.ts';

/**
 * The sampling grid in paper indexing (docs/math.md §1.3): abar[i] = alphas_cumprod[tau_i] for i = 1..N and
 * abar[0] = 1 ('one', the official BELM ending) or alphas_cumprod[0] ('first', diffusers'
 * set_alpha_to_one = false).
 */
export function buildGrid(config: ScheduleConfig, steps: number): Grid {
  const table = alphasCumprod(config);
  const tau = inferenceTimesteps(config, steps);
  const abar = new Float64Array(steps + 1);
  const timesteps: number[] = [Number.NaN];
  abar[0] = config.finalAbar === 'one' ? 1 : table[0]!;
  for (let i = 1; i <= steps; i++) {
    // tau is descending (tau_N first), so paper index i is tau[N - i].
    const t = tau[steps - i]!;
    timesteps.push(t);
    abar[i] = table[t]!;
  }
  // Every step needs h_i = sbar_i - sbar_{i-1} > 0; 'first' with tau_1 = 0 would give h_1 = 0.
  for (let i = 1; i <= steps; i++) {
    if (!(abar[i]! < abar[i - 1]!)) {
      throw new EngineError(
        'invalid_schedule',
        `the grid needs abar strictly decreasing from index 0 to N; abar[${i}] = ${abar[i]} >= abar[${i - 1}] = ${abar[i - 1]} (finalAbar '${config.finalAbar}' with tau_1 = ${timesteps[1]})`,
      );
    }
  }
  return { steps, abar, timesteps };
}

/** sbar(abar) = sigma / alpha = sqrt(1/abar - 1), the ODE's time variable (docs/math.md §2). */
export function sbar(abar: number): number {
  return Math.sqrt(1 / abar - 1);
}
