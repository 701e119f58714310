import { guidedEps } from '../cfg.ts';
import type { Embedding, EpsPredictor } from '../types.ts';
import type { DiffusionModel } from './model.ts';

export type Embedder = (prompt: string) => Promise<Embedding>;

/** Embeds each distinct prompt once per pipeline run. */
export function embedder(model: DiffusionModel, signal?: AbortSignal): Embedder {
  const cache = new Map<string, Promise<Embedding>>();
  return (prompt) => {
    let emb = cache.get(prompt);
    if (!emb) {
      emb = model.embed(prompt, signal);
      cache.set(prompt, emb);
    }
    return emb;
  };
}

/** The guided predictor of a prompt, as every pipeline stage (and a re-measured eps) calls the model. */
export async function guided(
  model: DiffusionModel,
  embed: Embedder,
  prompt: string,
  negative: string,
  guidance: number,
): Promise<EpsPredictor> {
  const cond = await embed(prompt);
  // The unconditional embedding is only computed when CFG is active (docs/math.md §7).
  const uncond = guidance > 1 ? await embed(negative) : cond;
  return guidedEps(model.eps, cond, uncond, guidance);
}
