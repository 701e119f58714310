import { gaussianFlow, solveFlowOde } from '../analytic/ode.ts';
import {
  atTimesteps,
  type ContinuousEps,
  type GaussianData,
  gaussianEps,
  type MixtureData,
  mixtureEps,
} from '../analytic/predictors.ts';
import { buildGrid } from '../grid.ts';
import type { ScheduleConfig } from '../pipelines/model.ts';
import { obelmForward, obelmInverse } from '../samplers/coefficients.ts';
import { runSampler } from '../samplers/run.ts';
import { frontierState } from '../samplers/state.ts';
import { alphasCumprod, inferenceTimesteps } from '../schedule.ts';
import type { Grid, SamplerSpec, SamplerState } from '../types.ts';
import { compareField, type FieldCheck, flatten, isNumeric } from './compare.ts';
import { parseTolerances, type Tolerances } from './tolerances.ts';

/** The outcome of one case (or of the file-level schedule/timestep checks). */
export interface CaseResult {
  readonly id: string;
  readonly checks: readonly FieldCheck[];
  readonly passed: boolean;
}

type Json = Record<string, unknown>;

/**
 * Recomputes every numeric field of a golden-vectors file (the format of test/fixtures/belm_vectors.json,
 * docs/math.md §11.4) with the engine. Everything is derived from the file's own fields: schedule block,
 * predictor, steps, spacing, offset, sampler block names (bdia_gamma1 -> gamma 1, edict_p093 -> p 0.93).
 */
export async function runGolden(file: unknown): Promise<CaseResult[]> {
  const root = file as Json;
  const tolerances = parseTolerances(root['suggested_tolerances']);
  const results: CaseResult[] = [];
  if (root['alphas_cumprod_checks'] || root['timestep_checks']) {
    results.push(fileChecks(root, tolerances));
  }
  for (const c of (root['cases'] ?? []) as Json[]) {
    results.push(await runCase(c, root, tolerances));
  }
  return results;
}

function result(id: string, checks: FieldCheck[]): CaseResult {
  return { id, checks, passed: checks.every((c) => c.passed) };
}

function failure(field: string, note: string): FieldCheck {
  return { field, deviation: Number.POSITIVE_INFINITY, tolerance: 0, passed: false, note };
}

/** Schedule config from a `schedule` block plus a case's spacing and offset. */
function scheduleConfig(schedule: Json, spacing = 'linspace', offset = 0): ScheduleConfig {
  const finalAbar = schedule['final_abar'];
  return {
    betaSchedule: (schedule['beta_schedule'] ?? 'scaled_linear') as ScheduleConfig['betaSchedule'],
    betaStart: Number(schedule['beta_start']),
    betaEnd: Number(schedule['beta_end']),
    trainTimesteps: Number(schedule['num_train_timesteps'] ?? 1000),
    spacing: spacing as ScheduleConfig['spacing'],
    stepsOffset: offset,
    finalAbar: finalAbar === undefined || finalAbar === 1 ? 'one' : 'first',
  };
}

/** alphas_cumprod spot values and timestep lists named like `leading_offset1_N50`. */
function fileChecks(root: Json, tol: Tolerances): CaseResult {
  const checks: FieldCheck[] = [];
  const schedule = scheduleConfig((root['schedule'] ?? {}) as Json);
  const table = alphasCumprod(schedule);
  for (const [t, expected] of Object.entries((root['alphas_cumprod_checks'] ?? {}) as Json)) {
    checks.push(
      compareField(`alphas_cumprod[${t}]`, expected, [table[Number(t)] ?? Number.NaN], tol.sampling),
    );
  }
  for (const [name, expected] of Object.entries((root['timestep_checks'] ?? {}) as Json)) {
    const match = /^(linspace|leading|trailing)(?:_offset(\d+))?_N(\d+)/.exec(name);
    if (!match) {
      checks.push(failure(`timestep_checks.${name}`, 'name does not say spacing/offset/N'));
      continue;
    }
    const config = {
      ...schedule,
      spacing: match[1] as ScheduleConfig['spacing'],
      stepsOffset: Number(match[2] ?? 0),
    };
    checks.push(
      guarded(`timestep_checks.${name}`, () =>
        compareField(
          `timestep_checks.${name}`,
          expected,
          inferenceTimesteps(config, Number(match[3])),
          tol.exact,
        ),
      ),
    );
  }
  return result('schedule_and_timestep_checks', checks);
}

function guarded(field: string, check: () => FieldCheck): FieldCheck {
  try {
    return check();
  } catch (error) {
    return failure(field, (error as Error).message);
  }
}

interface Predictor {
  readonly eps: ContinuousEps;
  /** The exact flow from abarFrom to abarTo: closed form (Gaussian) or high-accuracy RK4. */
  readonly exact: (x: Float64Array, abarFrom: number, abarTo: number) => Float64Array;
}

function predictorOf(spec: Json): Predictor {
  switch (spec['type']) {
    case 'gaussian': {
      const data = spec as unknown as GaussianData;
      return { eps: gaussianEps(data), exact: (x, from, to) => gaussianFlow(data, x, from, to) };
    }
    case 'gmm_diag':
    case 'gmm': {
      const eps = mixtureEps(spec as unknown as MixtureData);
      return { eps, exact: (x, from, to) => solveFlowOde(eps, x, from, to, 4000) };
    }
    default:
      throw new Error(`unknown predictor type '${String(spec['type'])}'`);
  }
}

/** `bdia_gamma1` -> 1, `edict_p093` -> 0.93: the first digit is the integer part. */
function parameterFromName(digits: string): number {
  return Number(`${digits[0]}.${digits.slice(1) || '0'}`);
}

function samplerOf(name: string, block: Json): SamplerSpec | undefined {
  if (name === 'ddim') return { name: 'ddim' };
  if (name === 'obelm') return { name: 'obelm' };
  const bdia = /^bdia(?:_gamma(\d+))?$/.exec(name);
  if (bdia) return { name: 'bdia', gamma: Number(block['gamma'] ?? parameterFromName(bdia[1] ?? '1')) };
  const edict = /^edict(?:_p(\d+))?$/.exec(name);
  if (edict) return { name: 'edict', p: Number(block['p'] ?? parameterFromName(edict[1] ?? '093')) };
  return undefined;
}

async function runCase(c: Json, root: Json, tol: Tolerances): Promise<CaseResult> {
  const id = String(c['id'] ?? 'case');
  const checks: FieldCheck[] = [];
  try {
    const steps = Number(c['num_inference_steps']);
    const schedule = scheduleConfig(
      (c['schedule'] ?? root['schedule'] ?? {}) as Json,
      (c['timestep_spacing'] as string | undefined) ?? 'linspace',
      Number(c['steps_offset'] ?? 0),
    );
    const grid = buildGrid(schedule, steps);
    const predictor = predictorOf(c['predictor'] as Json);
    const eps = atTimesteps(predictor.eps, alphasCumprod(schedule));
    const inputs = c['inputs'] as Json;
    const xT = flatten(inputs['x_T']);
    const x0 = flatten(inputs['x_0']);
    const ctx: CaseContext = { grid, eps: { grid, eps, shape: xT.shape }, xT: xT.data, x0: x0.data, tol };

    if (c['timesteps'] !== undefined) {
      checks.push(
        compareField('timesteps', c['timesteps'], [...grid.timesteps.slice(1)].reverse(), tol.exact),
      );
    }
    if (c['abar_grid_sampling_order'] !== undefined) {
      checks.push(
        compareField(
          'abar_grid_sampling_order',
          c['abar_grid_sampling_order'],
          [...grid.abar].reverse(),
          tol.sampling,
        ),
      );
    }
    for (const [name, block] of Object.entries(c)) {
      const spec = samplerOf(name, (block ?? {}) as Json);
      if (spec && typeof block === 'object')
        checks.push(...(await samplerChecks(name, spec, block as Json, ctx)));
    }
    for (const [name, expected] of Object.entries(c)) {
      if (!name.startsWith('exact_ode')) continue;
      const from = grid.abar[steps]!;
      const to = grid.abar[0]!;
      checks.push(compareField(name, expected, predictor.exact(ctx.xT, from, to), tol.ode));
    }
  } catch (error) {
    checks.push(failure('case', (error as Error).message));
  }
  return result(id, checks);
}

interface CaseContext {
  readonly grid: Grid;
  readonly eps: Parameters<typeof runSampler>[4];
  readonly xT: Float64Array;
  readonly x0: Float64Array;
  readonly tol: Tolerances;
}

/** The state's arrays by role, whatever its kind. */
function parts(state: SamplerState): { x: Float64Array; second?: Float64Array } {
  switch (state.kind) {
    case 'single':
      return { x: state.x };
    case 'pair':
      // Sampling ends with (x_1, x_0), inversion with (x_N, x_{N-1}): the frontier is `lower` resp. `upper`.
      return state.index === 1
        ? { x: state.lower, second: state.upper }
        : { x: state.upper, second: state.lower };
    case 'coupled':
      return { x: state.x, second: state.y };
  }
}

async function samplerChecks(
  name: string,
  spec: SamplerSpec,
  block: Json,
  ctx: CaseContext,
): Promise<FieldCheck[]> {
  const { grid, xT, x0, tol } = ctx;
  const N = grid.steps;
  const single = (index: number, x: Float64Array): SamplerState =>
    spec.name === 'edict' ? { kind: 'coupled', index, x, y: x } : { kind: 'single', index, x };
  const trajectory: Float64Array[] = [xT];
  const sampled = await runSampler(spec, 'sample', single(N, xT), 0, {
    ...ctx.eps,
    onStep: ({ state }) => {
      trajectory.push(frontierState(state, 'sample').x);
    },
  });
  const inverted = await runSampler(spec, 'invert', single(0, x0), N, ctx.eps);
  const fromPair = (field: string, index: number, upper: unknown, lower: unknown): SamplerState => {
    if (upper === undefined || lower === undefined)
      throw new Error(`${field} needs the pair fields in the block`);
    return { kind: 'pair', index, upper: flatten(upper).data, lower: flatten(lower).data };
  };

  const checks: FieldCheck[] = [];
  for (const [field, expected] of Object.entries(block)) {
    const path = `${name}.${field}`;
    const inversion = /invert|inverse/.test(field);
    const tolerance = inversion ? tol.inversion : tol.sampling;
    let actual: ArrayLike<number> | undefined;
    try {
      if (expected === null) continue; // a table given only for some cases
      if (field === 'coefficients') {
        checks.push(...coefficientChecks(path, expected as Json[], grid, tol));
        continue;
      }
      if (!isNumeric(expected)) continue; // notes and parameters
      if (field === 'sample_trajectory') actual = concat(trajectory);
      else if (field === 'invert_from_pair_xT') {
        const start = fromPair(path, 1, block['sample_x1_penultimate'], block['sample_x0']);
        actual = parts(await runSampler(spec, 'invert', start, N, ctx.eps)).x;
      } else if (field.startsWith('reconstruct')) {
        const start = fromPair(path, N, block['invert_official_xT'], block['invert_official_xNm1']);
        actual = parts(await runSampler(spec, 'sample', start, 0, ctx.eps)).x;
      } else if (/^sample_(x0|y0|x1)/.test(field)) {
        const p = parts(sampled);
        actual = field.startsWith('sample_x0') ? p.x : p.second;
      } else if (/^invert.*_(xT|yT|xNm1)$|^invert_(xT|yT)/.test(field)) {
        const p = parts(inverted);
        actual = /xT/.test(field) ? p.x : p.second;
      } else if (typeof expected === 'number') {
        continue; // a scalar parameter such as gamma or p
      }
      checks.push(
        actual === undefined
          ? failure(path, 'the engine has no recipe for this field')
          : compareField(path, expected, actual, tolerance),
      );
    } catch (error) {
      checks.push(failure(path, (error as Error).message));
    }
  }
  return checks;
}

function concat(arrays: Float64Array[]): Float64Array {
  const out = new Float64Array(arrays.reduce((n, a) => n + a.length, 0));
  let offset = 0;
  for (const a of arrays) {
    out.set(a, offset);
    offset += a.length;
  }
  return out;
}

/** The O-BELM coefficient tables (docs/math.md §3), checked against the grid's own abar values. */
function coefficientChecks(path: string, rows: Json[], grid: Grid, tol: Tolerances): FieldCheck[] {
  const checks: FieldCheck[] = [];
  for (const row of rows) {
    const i = Number(row['i']);
    const at = `${path}[i=${i}]`;
    const [A, B, C] = [grid.abar[i + 1]!, grid.abar[i]!, grid.abar[i - 1]!];
    if (row['tau_i'] !== undefined)
      checks.push(compareField(`${at}.tau_i`, row['tau_i'], [grid.timesteps[i]!], 0));
    for (const [key, value] of [
      ['abar_ip1', A],
      ['abar_i', B],
      ['abar_im1', C],
    ] as const) {
      if (row[key] !== undefined) checks.push(compareField(`${at}.${key}`, row[key], [value], tol.sampling));
    }
    const forward = row['forward'] as Json | undefined;
    if (forward) {
      const f = obelmForward(A, B, C);
      checks.push(
        compareField(
          `${at}.forward`,
          [forward['c_xip1'], forward['c_xi'], forward['c_eps']],
          [f.far, f.mid, f.eps],
          tol.sampling,
        ),
      );
    }
    const inverse = row['inverse'] as Json | undefined;
    if (inverse) {
      const b = obelmInverse(A, B, C);
      checks.push(
        compareField(
          `${at}.inverse`,
          [inverse['c_xim1'], inverse['c_xi'], inverse['c_eps']],
          [b.far, b.mid, b.eps],
          tol.inversion,
        ),
      );
    }
  }
  return checks;
}
