import { EngineError } from '../errors.ts';
import { slerp } from '../slerp.ts';
import type { SamplerState, Tensor } from '../types.ts';
import { cleanLatent, decodeLatent, encodeImage, imageBatch, stateBatch } from './images.ts';
import type { DiffusionModel } from './model.ts';
import type { PipelineOptions } from './options.ts';
import { runStages, type Stage, setup } from './stages.ts';

/** An interpolation end: an image (inverted first) or a stored noise state. */
export type InterpolationEnd = { readonly image: Tensor } | { readonly state: SamplerState };

export interface InterpolateRequest extends PipelineOptions {
  readonly from: InterpolationEnd;
  readonly to: InterpolationEnd;
  /** Slerp weights, e.g. [0, 0.25, 0.5, 0.75, 1]; 0 = `from`. */
  readonly weights: readonly number[];
  /** Used for the inversions and the sampling; default ''. */
  readonly prompt?: string;
}

export interface InterpolateResult {
  /** One image per weight. */
  readonly images: Tensor[];
  /** The noises slerped between. */
  readonly ends: readonly [SamplerState, SamplerState];
}

/** Slerps every array of two states of the same kind and index (both states of a pair). */
function slerpStates(a: SamplerState, b: SamplerState, w: number, batch: number): SamplerState {
  if (a.kind !== b.kind || a.index !== b.index) {
    throw new EngineError(
      'invalid_state',
      `cannot interpolate a ${a.kind}@${a.index} and a ${b.kind}@${b.index} state`,
    );
  }
  if (a.kind === 'single' && b.kind === 'single') return { ...a, x: slerp(a.x, b.x, w, batch) };
  if (a.kind === 'pair' && b.kind === 'pair') {
    return { ...a, upper: slerp(a.upper, b.upper, w, batch), lower: slerp(a.lower, b.lower, w, batch) };
  }
  if (a.kind === 'coupled' && b.kind === 'coupled') {
    return { ...a, x: slerp(a.x, b.x, w, batch), y: slerp(a.y, b.y, w, batch) };
  }
  throw new EngineError('invalid_state', 'unreachable state kinds');
}

/**
 * Slerp between two inverted noises (both states of the pair), then sample one image per weight.
 * Stages: one inversion per image end (from, then to), then one sampling stage per weight.
 */
export async function interpolate(
  model: DiffusionModel,
  req: InterpolateRequest,
): Promise<InterpolateResult> {
  if (req.weights.length === 0 || !req.weights.every(Number.isFinite)) {
    throw new EngineError('invalid_weights', 'interpolate needs at least one finite weight');
  }
  const batchOf = (end: InterpolationEnd) =>
    'image' in end ? imageBatch(model, end.image) : stateBatch(model, end.state);
  const batch = batchOf(req.from);
  if (batchOf(req.to) !== batch)
    throw new EngineError('shape_mismatch', 'both ends need the same batch size');
  const s = setup(model, req, batch, model.defaults.guidance);
  const prompt = req.prompt ?? '';

  const stages: Stage[] = [];
  const endAt: ((completed: readonly SamplerState[]) => SamplerState)[] = [];
  for (const end of [req.from, req.to]) {
    if ('state' in end) {
      endAt.push(() => end.state);
      continue;
    }
    const latent = await encodeImage(model, end.image, req.signal);
    const stageIndex = stages.length;
    stages.push({
      direction: 'invert',
      prompt,
      to: s.grid.steps,
      begin: () => ({ kind: 'single', index: 0, x: latent }),
    });
    endAt.push((completed) => completed[stageIndex]!);
  }
  const inversions = stages.length;
  for (const w of req.weights) {
    stages.push({
      direction: 'sample',
      prompt,
      to: 0,
      begin: (completed) => slerpStates(endAt[0]!(completed), endAt[1]!(completed), w, batch),
    });
  }
  const { states: completed } = await runStages(model, s, stages, req);
  const images: Tensor[] = [];
  for (const state of completed.slice(inversions)) {
    images.push(await decodeLatent(model, cleanLatent(state), batch, req.signal));
  }
  return { images, ends: [endAt[0]!(completed), endAt[1]!(completed)] };
}
