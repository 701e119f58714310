export { byteAlphabet } from './byteAlphabet.ts';
export { type ClipTokenizer, loadClipTokenizer } from './clip.ts';
export { clipTokenizerJson, parseMerges } from './clipJson.ts';
export { TokenizerError, type TokenizerErrorCode } from './errors.ts';
