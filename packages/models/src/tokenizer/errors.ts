import { CodedError } from '@obelm/core';

export type TokenizerErrorCode = 'tokenizer_not_found' | 'tokenizer_invalid';

/** A bundle's `tokenizer/` folder is missing or unreadable. */
export class TokenizerError extends CodedError<TokenizerErrorCode> {
  override readonly name = 'TokenizerError';
}
