import {
  alphasCumprod,
  atTimesteps,
  buildGrid,
  type ContinuousEps,
  type DiffusionModel,
  type EpsPredictor,
  type Grid,
  gaussianEps,
  gaussianNoise,
  mixtureEps,
  SD_SCHEDULE,
} from '../src/index.ts';

/** Gaussian test data (docs/math.md §11.1): d coordinates, means and scales drawn from a fixed seed. */
export function gaussianData(d: number, seed = 7) {
  const z = gaussianNoise(seed, 2 * d);
  const mu = Array.from({ length: d }, (_, k) => z[k]!);
  const s = Array.from({ length: d }, (_, k) => 0.2 + 1.3 * (0.5 + 0.5 * Math.tanh(z[d + k]!)));
  return { mu, s };
}

/** The reference's 2-D, 3-component mixture (docs/math.md §11.2; the golden vectors' gmm_diag predictor). */
export const MIXTURE = {
  weights: [0.5, 0.3, 0.2],
  means: [
    [-2, 0],
    [2, 1],
    [0, -2],
  ],
  variances: [
    [0.09, 0.25],
    [0.16, 0.16],
    [0.36, 0.04],
  ],
};

export interface AnalyticSetup {
  readonly grid: Grid;
  readonly eps: EpsPredictor;
  readonly continuous: ContinuousEps;
}

export function gaussianSetup(
  d: number,
  steps: number,
): AnalyticSetup & { data: ReturnType<typeof gaussianData> } {
  const data = gaussianData(d);
  const continuous = gaussianEps(data);
  return {
    grid: buildGrid(SD_SCHEDULE, steps),
    eps: atTimesteps(continuous, alphasCumprod(SD_SCHEDULE)),
    continuous,
    data,
  };
}

export function mixtureSetup(steps: number): AnalyticSetup {
  const continuous = mixtureEps(MIXTURE);
  return {
    grid: buildGrid(SD_SCHEDULE, steps),
    eps: atTimesteps(continuous, alphasCumprod(SD_SCHEDULE)),
    continuous,
  };
}

export function maxAbs(a: Float64Array, b: Float64Array): number {
  let m = 0;
  for (let j = 0; j < a.length; j++) m = Math.max(m, Math.abs(a[j]! - b[j]!));
  return m;
}

/** max |a - b| / (1 + |b|) */
export function maxRel(a: Float64Array, b: Float64Array): number {
  let m = 0;
  for (let j = 0; j < a.length; j++) m = Math.max(m, Math.abs(a[j]! - b[j]!) / (1 + Math.abs(b[j]!)));
  return m;
}

export function rms(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let j = 0; j < a.length; j++) s += (a[j]! - b[j]!) ** 2;
  return Math.sqrt(s / a.length);
}

/**
 * A pixel-space analytic DiffusionModel: images [1, 3, 4, 4]; data = a mixture of constant-colour images with
 * small variance; the prompt selects components by word ('dark', 'bright', 'red'); encode/decode are identity.
 */
export const COMPONENTS: { words: string[]; mean: Float64Array }[] = [
  { words: ['dark'], mean: new Float64Array(48).fill(-0.6) },
  { words: ['bright'], mean: new Float64Array(48).fill(0.6) },
  {
    words: ['red'],
    mean: Float64Array.from({ length: 48 }, (_, j) => (j < 16 ? 0.8 : -0.4)),
  },
];

export function analyticModel(
  overrides: Partial<DiffusionModel['defaults']> = {},
): DiffusionModel & { calls: number } {
  const table = alphasCumprod(SD_SCHEDULE);
  const D = 48;
  const model = {
    id: 'analytic-test',
    schedule: SD_SCHEDULE,
    defaults: {
      steps: 20,
      guidance: 1,
      maxGuidance: 3,
      editStrength: 0.5,
      editGuidance: 1,
      editRestart: 'single' as const,
      ...overrides,
    },
    latentShape: [1, 3, 4, 4],
    imageSize: [4, 4] as const,
    calls: 0,
    encode: async (pixels) => Float64Array.from(pixels.data),
    decode: async (latent) => Float64Array.from(latent.data),
    embed: async (prompt) => {
      const words = prompt.toLowerCase().split(/\s+/).filter(Boolean);
      const data = Float32Array.from(COMPONENTS, (c) =>
        words.every((w) => c.words.includes(w)) ? 0 : -1e30,
      );
      return { data, shape: [1, COMPONENTS.length] };
    },
    eps: async (x, t, emb) => {
      model.calls++;
      const abar = table[t]!;
      const out = new Float64Array(x.data.length);
      for (let row = 0; row < x.shape[0]!; row++) {
        const logPrior = emb.data.subarray(row * COMPONENTS.length, (row + 1) * COMPONENTS.length);
        const kept = COMPONENTS.filter((_, k) => logPrior[k]! > -1e29);
        const eps = mixtureEps({
          weights: kept.map(() => 1 / kept.length),
          means: kept.map((c) => [...c.mean]),
          variances: kept.map(() => new Array(D).fill(0.01)),
        });
        out.set(eps(x.data.subarray(row * D, (row + 1) * D), abar), row * D);
      }
      return out;
    },
  } satisfies DiffusionModel & { calls: number };
  return model;
}
