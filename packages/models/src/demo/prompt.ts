/**
 * The demo bundle's "text encoder": a prompt selects the mixture components whose label contains every
 * known prompt word, and becomes their log-prior (docs/demo-model.md §2 "Conditioning"):
 *   log w_k = -log n for the n matching components, -1e30 for the others.
 * -1e30 (not -1e4, not -inf): logits spread over ~1e5 across components, and -inf gives NaN when every
 * entry is -inf (docs/demo-model.md §2).
 */
import type { Embedding } from '@obelm/engine';
import { ModelError } from '../runtime/errors.ts';
import type { DemoItem } from './dataset.ts';

export const EXCLUDED_LOG_PRIOR = -1e30;

export interface DemoPrompt {
  /** Float32 [1, 1, K]: the graph's `encoder_hidden_states`. */
  readonly embedding: Embedding;
  /** Known words, in prompt order, without repeats. */
  readonly words: readonly string[];
  /** Words the model does not know; they are ignored. */
  readonly unknownWords: readonly string[];
  /** Number of components the prompt selects. */
  readonly matches: number;
}

/**
 * Parses a prompt: lower-cased, split on anything but letters. '' (or only separators) selects every
 * component, the unconditional model. A prompt that names nothing the model knows, or whose words no
 * single image carries ("red blue"), is rejected with PROMPT_NO_MATCH.
 */
export function encodeDemoPrompt(
  prompt: string,
  items: readonly DemoItem[],
  vocabulary: readonly string[],
): DemoPrompt {
  const tokens = prompt
    .toLowerCase()
    .split(/[^a-z]+/)
    .filter(Boolean);
  const known = new Set(vocabulary);
  const words = [...new Set(tokens.filter((t) => known.has(t)))];
  const unknownWords = [...new Set(tokens.filter((t) => !known.has(t)))];
  if (tokens.length > 0 && words.length === 0) {
    throw new ModelError(
      'prompt_no_match',
      `the demo model knows none of the words in '${prompt}'; use some of: ${vocabulary.join(', ')}`,
    );
  }
  const selected = items.map((item) => words.every((w) => item.words.has(w)));
  const matches = selected.filter(Boolean).length;
  if (matches === 0) {
    throw new ModelError('prompt_no_match', `no demo image is ${words.join(' and ')} at once`);
  }
  const logPrior = Float32Array.from(selected, (on) => (on ? -Math.log(matches) : EXCLUDED_LOG_PRIOR));
  return { embedding: { data: logPrior, shape: [1, 1, items.length] }, words, unknownWords, matches };
}
