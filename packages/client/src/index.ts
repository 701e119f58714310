/**
 * @obelm/client: a typed client of the obelm API (public routes only), built on openapi-fetch with types
 * generated from the API's OpenAPI document (schema.ts; `npm run generate -w @obelm/client`).
 */
export {
  type CallOptions,
  type CreateJobOptions,
  createObelmClient,
  type ObelmClient,
  type ObelmClientOptions,
} from './client.ts';
export {
  ObelmApiError,
  ObelmError,
  ObelmNetworkError,
  ObelmTimeoutError,
  ObelmTransferError,
  ObelmWebhookVerificationError,
  parseRetryAfterSeconds,
} from './errors.ts';
export { MAX_WAIT_SECONDS, type WaitForJobOptions } from './jobs.ts';
export { DEFAULT_RETRY, type FetchLike, type RetryOptions } from './retry.ts';
export type { components, operations, paths } from './schema.ts';
export * from './types.ts';
export { sniffImageType, type UploadInput, type UploadOptions } from './uploads.ts';
export { verifyWebhook, type WebhookHeaders } from './webhooks.ts';
