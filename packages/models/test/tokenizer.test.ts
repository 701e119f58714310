import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { tinyTokenizerWords, writeTinyClipTokenizer } from '../src/testing.ts';
import { byteAlphabet, loadClipTokenizer, TokenizerError } from '../src/tokenizer/index.ts';

let optimumDir: string;
let fastDir: string;
let vocab: Record<string, number>;

beforeAll(async () => {
  const root = mkdtempSync(join(tmpdir(), 'obelm-tok-'));
  optimumDir = join(root, 'optimum');
  fastDir = join(root, 'fast');
  await writeTinyClipTokenizer(optimumDir);
  await writeTinyClipTokenizer(fastDir, { withTokenizerJson: true });
  vocab = JSON.parse(readFileSync(join(optimumDir, 'vocab.json'), 'utf8'));
});

describe('CLIP tokenizer', () => {
  it('lays out the vocabulary as CLIP does', () => {
    const alphabet = byteAlphabet();
    expect(new Set(alphabet).size).toBe(256);
    expect(vocab['!']).toBe(0); // CLIP: id 0 is '!', the first printable byte
    expect(vocab['a']).toBe(alphabet.indexOf('a'));
    expect(vocab['a</w>']).toBe(256 + alphabet.indexOf('a'));
    const size = Object.keys(vocab).length;
    expect(vocab['<|startoftext|>']).toBe(size - 2);
    expect(vocab['<|endoftext|>']).toBe(size - 1);
    expect(size).toBeLessThan(1000);
  });

  it('tokenizes a known sentence: lower-case, punctuation split, BOS/EOS, padded to 77', async () => {
    const tokenizer = await loadClipTokenizer(optimumDir);
    const ids = tokenizer.encode('A  Photo of a red Cat, with a DOG!!');
    const word = (w: string) => vocab[`${w}</w>`]!;
    const bos = vocab['<|startoftext|>']!;
    const eos = vocab['<|endoftext|>']!;
    const expected = [
      bos,
      word('a'),
      word('photo'),
      word('of'),
      word('a'),
      word('red'),
      word('cat'),
      word(','),
      word('with'),
      word('a'),
      word('dog'),
      vocab['!']!,
      word('!'),
      eos,
    ];
    expect(ids.slice(0, expected.length)).toEqual(expected);
    expect(ids).toHaveLength(77);
    expect(new Set(ids.slice(expected.length))).toEqual(new Set([eos])); // SD 1.x pads with <|endoftext|>
    expect(tokenizer.encode('')).toEqual([bos, ...new Array(76).fill(eos)]);
  });

  it('splits unknown words into byte-level pieces, including non-ASCII bytes', async () => {
    const tokenizer = await loadClipTokenizer(optimumDir);
    const ids = tokenizer.encode('zq é 7');
    // 'é' is the two UTF-8 bytes C3 A9; both are printable Latin-1, so the byte alphabet maps them to themselves.
    expect(ids.slice(1, 6)).toEqual([
      vocab['z']!,
      vocab['q</w>']!,
      vocab[String.fromCodePoint(0xc3)]!,
      vocab[`${String.fromCodePoint(0xa9)}</w>`]!,
      vocab['7</w>']!,
    ]);
  });

  it('gives the same ids from tokenizer.json and from vocab.json + merges.txt', async () => {
    const optimum = await loadClipTokenizer(optimumDir);
    const fast = await loadClipTokenizer(fastDir);
    for (const prompt of ['a painting of a blue house', "the dog's car", tinyTokenizerWords.join(' ')]) {
      expect(fast.encode(prompt)).toEqual(optimum.encode(prompt));
    }
  });

  it('knows every tiny word as one token', async () => {
    const tokenizer = await loadClipTokenizer(optimumDir);
    for (const w of tinyTokenizerWords) expect(tokenizer.encode(w)[1], w).toBe(vocab[`${w}</w>`]);
  });

  it('truncates long prompts to 75 tokens between BOS and EOS', async () => {
    const tokenizer = await loadClipTokenizer(optimumDir);
    const ids = tokenizer.encode('cat '.repeat(100));
    expect(ids).toHaveLength(77);
    expect(ids[75]).toBe(vocab['cat</w>']);
    expect(ids[76]).toBe(vocab['<|endoftext|>']);
  });

  it("pads with the configured pad token (SD 2.x pads with '!')", async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'obelm-tok-')), 'sd2');
    await writeTinyClipTokenizer(dir);
    const config = JSON.parse(readFileSync(join(dir, 'tokenizer_config.json'), 'utf8'));
    writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify({ ...config, pad_token: '!' }));
    const tokenizer = await loadClipTokenizer(dir);
    expect(tokenizer.padId).toBe(0);
    expect(tokenizer.encode('cat').slice(3)).toEqual(new Array(74).fill(0));
  });

  it('refuses a folder without tokenizer files', async () => {
    const error = await loadClipTokenizer(mkdtempSync(join(tmpdir(), 'obelm-tok-'))).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TokenizerError);
    expect((error as TokenizerError).code).toBe('tokenizer_not_found');
  });
});
