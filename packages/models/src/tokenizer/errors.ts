export type TokenizerErrorCode = 'tokenizer_not_found' | 'tokenizer_invalid';

/** A bundle's `tokenizer/` folder is missing or unreadable. */
export class TokenizerError extends Error {
  override readonly name = 'TokenizerError';
  constructor(
    readonly code: TokenizerErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
