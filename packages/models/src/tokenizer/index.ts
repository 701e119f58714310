export { byteAlphabet } from './byte-alphabet.ts';
export { type ClipTokenizer, loadClipTokenizer } from './clip.ts';
export { clipTokenizerJson, parseMerges } from './clip-json.ts';
export { TokenizerError, type TokenizerErrorCode } from './errors.ts';
export { type TinyTokenizerOptions, tinyTokenizerWords, writeTinyClipTokenizer } from './tiny.ts';
