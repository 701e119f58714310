import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import { readJsonIfPresent } from '../files.ts';
import { bosToken, clipTokenizerJson, eosToken, parseMerges } from './clipJson.ts';
import { TokenizerError } from './errors.ts';

/** CLIP's prompt tokenizer: a prompt -> exactly `maxLength` ids, [BOS, tokens..., EOS, pad...]. */
export interface ClipTokenizer {
  /** 77 for every SD 1.x/2.x text encoder. */
  readonly maxLength: number;
  readonly bosId: number;
  readonly eosId: number;
  /** `<|endoftext|>` in SD 1.x; SD 2.x's OpenCLIP tokenizer pads with `!` (id 0). */
  readonly padId: number;
  encode(prompt: string): number[];
}

/**
 * Loads a bundle's `tokenizer/` folder offline: `tokenizer.json` when present, otherwise the
 * `vocab.json` + `merges.txt` pair of optimum/diffusers exports. `tokenizer_config.json` /
 * `special_tokens_map.json` give the pad token and the maximum length when present.
 */
export async function loadClipTokenizer(dir: string): Promise<ClipTokenizer> {
  const config = (await readJson(join(dir, 'tokenizer_config.json'))) ?? {};
  const specialTokens = (await readJson(join(dir, 'special_tokens_map.json'))) ?? {};
  const tokenizerJson = (await readJson(join(dir, 'tokenizer.json'))) ?? (await fromVocabAndMerges(dir));

  let tokenizer: Tokenizer;
  try {
    tokenizer = new Tokenizer(tokenizerJson, config);
  } catch (error) {
    throw new TokenizerError('tokenizer_invalid', `tokenizer in ${dir} could not be built`, { cause: error });
  }
  const idOf = (token: string): number => {
    const id = tokenizer.token_to_id(token);
    if (id === undefined)
      throw new TokenizerError('tokenizer_invalid', `tokenizer in ${dir} has no '${token}'`);
    return id;
  };
  const bosId = idOf(bosToken);
  const eosId = idOf(eosToken);
  const padId = idOf(tokenContent(config['pad_token'] ?? specialTokens['pad_token']) ?? eosToken);
  const configured = config['model_max_length'];
  // Some configs store a huge sentinel for "no limit"; CLIP text encoders have 77 positions.
  const maxLength = typeof configured === 'number' && configured >= 2 && configured <= 1024 ? configured : 77;

  return {
    maxLength,
    bosId,
    eosId,
    padId,
    encode(prompt: string): number[] {
      const body = tokenizer.encode(prompt, { add_special_tokens: false }).ids.slice(0, maxLength - 2);
      const ids = [bosId, ...body, eosId];
      while (ids.length < maxLength) ids.push(padId);
      return ids;
    },
  };
}

async function fromVocabAndMerges(dir: string): Promise<object> {
  const vocab = await readJson(join(dir, 'vocab.json'));
  const merges = await readFile(join(dir, 'merges.txt'), 'utf8').catch(() => undefined);
  if (vocab === undefined || merges === undefined) {
    throw new TokenizerError(
      'tokenizer_not_found',
      `${dir} has neither tokenizer.json nor vocab.json + merges.txt`,
    );
  }
  return clipTokenizerJson(vocab as Record<string, number>, parseMerges(merges));
}

const readJson = (path: string) =>
  readJsonIfPresent(path, (message, cause) => new TokenizerError('tokenizer_invalid', message, { cause }));

/** Special tokens appear as a string or as an AddedToken object `{content: ...}`. */
function tokenContent(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { content?: unknown }).content === 'string'
  ) {
    return (value as { content: string }).content;
  }
  return undefined;
}
