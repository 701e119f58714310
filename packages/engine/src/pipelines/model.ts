import type { ConditionalEpsPredictor, Embedding, RowwiseEpsPredictor, Tensor } from '../types.ts';

/** How the training noise schedule and the inference timesteps are built (docs/math.md §1). */
export interface ScheduleConfig {
  readonly betaSchedule: 'scaled_linear' | 'linear';
  readonly betaStart: number;
  readonly betaEnd: number;
  readonly trainTimesteps: number;
  readonly spacing: 'linspace' | 'leading' | 'trailing';
  readonly stepsOffset: number;
  /** abar at the clean end of the grid: 1 (official BELM) or abar[0] ('first'). */
  readonly finalAbar: 'one' | 'first';
}

/** Per-bundle defaults, chosen from experiments and recorded in the bundle manifest. */
export interface ModelDefaults {
  readonly steps: number;
  readonly guidance: number;
  readonly maxGuidance: number;
  /** Edit strength in (0, 1]: the fraction of the grid re-sampled; f = round(N (1 - strength)) stay frozen. */
  readonly editStrength: number;
  readonly editGuidance: number;
  /** Edit restart: 'pair' = from the stored pair (official), 'single' = one DDIM step under the target prompt. */
  readonly editRestart: 'pair' | 'single';
}

/**
 * What a pipeline needs from a diffusion model. `packages/models` implements it over ONNX Runtime
 * (SD bundles, the demo bundle); tests implement it with analytic predictors.
 *
 * Pixels are float tensors in [-1, 1], layout [B, 3, H, W]. Latents are float64 [B, ...latentShape.slice(1)].
 */
export interface DiffusionModel {
  readonly id: string;
  readonly schedule: ScheduleConfig;
  readonly defaults: ModelDefaults;
  /** Latent shape for a batch of one, e.g. [1, 4, 64, 64] (SD) or [1, 3, 32, 32] (pixel space). */
  readonly latentShape: readonly number[];
  /** Image size in pixels [height, width]. */
  readonly imageSize: readonly [number, number];
  /** Pixels -> latent (deterministic: the VAE posterior mean times the scaling factor; identity in pixel space). */
  encode(pixels: Tensor, signal?: AbortSignal): Promise<Float64Array>;
  /** Latent -> pixels in [-1, 1]. */
  decode(latent: Tensor, signal?: AbortSignal): Promise<Float64Array>;
  /** One prompt -> an embedding with a batch of one. '' is the unconditional embedding. */
  embed(prompt: string, signal?: AbortSignal): Promise<Embedding>;
  /** eps_theta(x, t | emb); rows of x pair with rows of emb. */
  readonly eps: ConditionalEpsPredictor;
  /**
   * Optional: eps with one timestep per row (`t[i]` for row i; RowwiseEpsPredictor), for models whose graph takes
   * a [batch] timestep. Pipelines never call it; a worker uses it to merge the calls of jobs at different steps
   * into one model call. Row i of the answer depends only on row i of x, t and emb. Absent where the graph takes
   * one timestep per call.
   */
  readonly epsRows?: RowwiseEpsPredictor;
}
