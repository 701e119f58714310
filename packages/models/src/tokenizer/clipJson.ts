/**
 * The `tokenizer.json` structure of CLIP's fast tokenizer (as transformers' CLIPTokenizerFast saves it), built from
 * the `vocab.json` + `merges.txt` pair that optimum/diffusers exports ship: NFC + whitespace collapse + lower-case,
 * split into letter runs / single digits / punctuation runs (contractions kept), byte-level mapping, then BPE with
 * the `</w>` end-of-word suffix.
 */
export const bosToken = '<|startoftext|>';
export const eosToken = '<|endoftext|>';

const clipSplitPattern =
  "<\\|startoftext\\|>|<\\|endoftext\\|>|'s|'t|'re|'ve|'m|'ll|'d|[\\p{L}]+|[\\p{N}]|[^\\s\\p{L}\\p{N}]+";

export function clipTokenizerJson(
  vocab: Readonly<Record<string, number>>,
  merges: readonly string[],
): object {
  const special = (content: string) => ({
    id: vocab[content],
    content,
    single_word: false,
    lstrip: false,
    rstrip: false,
    normalized: true,
    special: true,
  });
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [special(bosToken), special(eosToken)],
    normalizer: {
      type: 'Sequence',
      normalizers: [
        { type: 'NFC' },
        { type: 'Replace', pattern: { Regex: '\\s+' }, content: ' ' },
        { type: 'Lowercase' },
      ],
    },
    pre_tokenizer: {
      type: 'Sequence',
      pretokenizers: [
        { type: 'Split', pattern: { Regex: clipSplitPattern }, behavior: 'Removed', invert: true },
        { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: false },
      ],
    },
    post_processor: {
      type: 'RobertaProcessing',
      sep: [eosToken, vocab[eosToken]],
      cls: [bosToken, vocab[bosToken]],
      trim_offsets: false,
      add_prefix_space: false,
    },
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: eosToken,
      continuing_subword_prefix: '',
      end_of_word_suffix: '</w>',
      fuse_unk: false,
      byte_fallback: false,
      vocab,
      merges,
    },
  };
}

/** merges.txt lines -> "a b" merge rules (drops the `#version` line and blank lines). */
export function parseMerges(text: string): string[] {
  return text.split(/\r?\n/).filter((line) => line.trim() !== '' && !line.startsWith('#version'));
}
