import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { byteAlphabet } from './byteAlphabet.ts';
import { bosToken, clipTokenizerJson, eosToken } from './clipJson.ts';

/** The words the tiny tokenizer knows as single tokens; anything else falls apart into smaller pieces. */
export const tinyTokenizerWords = [
  'a',
  'an',
  'the',
  'of',
  'in',
  'on',
  'with',
  'and',
  'photo',
  'painting',
  'picture',
  'cat',
  'dog',
  'dalmatian',
  'bird',
  'horse',
  'car',
  'house',
  'tree',
  'flower',
  'red',
  'green',
  'blue',
  'yellow',
  'black',
  'white',
  'circle',
  'square',
  'triangle',
  'star',
];

export interface TinyTokenizerOptions {
  /** Also write `tokenizer.json` (default false: only the vocab.json + merges.txt pair optimum exports ship). */
  readonly withTokenizerJson?: boolean;
  readonly words?: readonly string[];
}

/**
 * Writes a tiny CLIP-format tokenizer folder for test bundles: CLIP's 512 byte-level base tokens (bare and with
 * `</w>`), BPE merges learned on the known words until each is one token, then `<|startoftext|>` and `<|endoftext|>`;
 * with the same vocabulary layout, files and special-token conventions as SD 1.5's `tokenizer/`.
 */
export async function writeTinyClipTokenizer(dir: string, options: TinyTokenizerOptions = {}): Promise<void> {
  const alphabet = byteAlphabet();
  const vocab: Record<string, number> = {};
  const add = (token: string) => {
    if (!(token in vocab)) vocab[token] = Object.keys(vocab).length;
  };
  for (const char of alphabet) add(char);
  for (const char of alphabet) add(`${char}</w>`);

  const merges = learnMerges(options.words ?? tinyTokenizerWords);
  for (const rule of merges) add(rule.replace(' ', ''));
  add(bosToken);
  add(eosToken);

  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'vocab.json'), JSON.stringify(vocab));
  await writeFile(join(dir, 'merges.txt'), `#version: 0.2\n${merges.join('\n')}\n`);
  await writeFile(
    join(dir, 'tokenizer_config.json'),
    JSON.stringify({
      bos_token: bosToken,
      eos_token: eosToken,
      pad_token: eosToken,
      unk_token: eosToken,
      model_max_length: 77,
      do_lower_case: true,
      tokenizer_class: 'CLIPTokenizer',
    }),
  );
  await writeFile(
    join(dir, 'special_tokens_map.json'),
    JSON.stringify({ bos_token: bosToken, eos_token: eosToken, pad_token: eosToken, unk_token: eosToken }),
  );
  if (options.withTokenizerJson) {
    await writeFile(join(dir, 'tokenizer.json'), JSON.stringify(clipTokenizerJson(vocab, merges)));
  }
}

/**
 * Plain BPE training (each word counted once): merge the most frequent adjacent pair everywhere, ties broken by
 * the pair's text, until every word is one symbol. Encoding a training word replays these merges in rank order,
 * so each known word comes back as a single token.
 */
function learnMerges(words: readonly string[]): string[] {
  const symbols = words.map((word) => {
    const chars = [...word];
    chars[chars.length - 1] += '</w>';
    return chars;
  });
  const merges: string[] = [];
  for (;;) {
    const counts = new Map<string, number>();
    for (const word of symbols) {
      for (let i = 0; i + 1 < word.length; i++) {
        const pair = `${word[i]} ${word[i + 1]}`;
        counts.set(pair, (counts.get(pair) ?? 0) + 1);
      }
    }
    if (counts.size === 0) return merges;
    const [best] = [...counts].sort(([a, ca], [b, cb]) => cb - ca || (a < b ? -1 : a > b ? 1 : 0))[0]!;
    merges.push(best);
    const [left, right] = best.split(' ') as [string, string];
    for (const word of symbols) {
      for (let i = 0; i + 1 < word.length; i++) {
        if (word[i] === left && word[i + 1] === right) word.splice(i, 2, left + right);
      }
    }
  }
}
