/**
 * Every error code the API answers with, its one HTTP status and what it means. ApiError takes its status
 * from here (a code thrown with another status does not type-check), and the OpenAPI document lists each
 * route's codes under their statuses (routes.ts names the codes of each route).
 */
export const API_ERRORS = {
  // 400: the request is wrong as sent
  malformed_json: { status: 400, description: 'The body is not a JSON object.' },
  malformed_path: { status: 400, description: 'The path has malformed percent-encoding.' },
  unknown_field: { status: 400, description: 'A field the schema does not know (`details.field`).' },
  invalid_request: {
    status: 400,
    description: 'The body or query fails its schema (`details`: the issues).',
  },
  unknown_model: { status: 400, description: 'No such model for the caller (`details.allowed`).' },
  steps_out_of_range: {
    status: 400,
    description: "`steps` is outside the model's limits, or over the plan's (`details.limit: 'plan'`).",
  },
  guidance_out_of_range: { status: 400, description: "`guidance` is outside the model's limits." },
  missing_image: { status: 400, description: 'The job kind needs `image` or `noise`.' },
  conflicting_inputs: { status: 400, description: 'Inputs that exclude each other (`details.fields`).' },
  invalid_image: {
    status: 400,
    description: 'Not a decodable PNG, JPEG or WebP (`details.reason`: why, e.g. `truncated`).',
  },
  invalid_idempotency_key: { status: 400, description: 'The Idempotency-Key header is malformed.' },
  invalid_cursor: { status: 400, description: 'A `cursor` this API did not return.' },
  invalid_webhook: {
    status: 400,
    description: 'A webhook URL the delivery guard refuses (`details.reason`: scheme, private address...).',
  },
  // 401
  unauthorized: {
    status: 401,
    description: 'Missing, unknown or revoked API key, or a suspended tenant (`details.reason`).',
  },
  // 402
  quota_exceeded: {
    status: 402,
    description: 'The monthly budget is spent (`details`: what, used, limit, resetsAt).',
  },
  // 404: also what another tenant's resource looks like
  not_found: { status: 404, description: 'No such route.' },
  job_not_found: { status: 404, description: 'No such job of the caller.' },
  unknown_upload: { status: 404, description: 'No such upload of the caller.' },
  unknown_noise: { status: 404, description: 'The noise names no job of the caller.' },
  batch_not_found: { status: 404, description: 'No such batch of the caller.' },
  // 405
  method_not_allowed: { status: 405, description: 'The path exists with another method (`Allow`).' },
  // 409: the request is fine, the state of what it names is not
  upload_pending: { status: 409, description: 'Nothing has been uploaded to the upload slot yet.' },
  noise_not_ready: { status: 409, description: 'The noise job has not succeeded yet.' },
  incompatible_noise: {
    status: 409,
    description: 'The noise cannot start this job, or fixes other settings.',
  },
  idempotency_conflict: { status: 409, description: 'The Idempotency-Key was used with another body.' },
  idempotency_in_progress: { status: 409, description: 'A request with this Idempotency-Key is running.' },
  job_finished: { status: 409, description: 'The job has already ended.' },
  job_busy: { status: 409, description: 'The job kept changing state; retry.' },
  job_active: { status: 409, description: 'The job has not ended: cancel it first.' },
  no_webhook_event: {
    status: 409,
    description:
      'Nothing to redeliver: the job has no webhook, has not ended, or its event is not subscribed.',
  },
  batch_closed: { status: 409, description: 'The batch is already closed.' },
  // 413
  payload_too_large: { status: 413, description: 'The request body is over the limit (`details.maxBytes`).' },
  image_too_large: {
    status: 413,
    description:
      "An image over the byte or pixel limit (`details.maxBytes` or `details.maxPixels`; the plan's: `details.limit: 'plan'`).",
  },
  // 429: retry after `Retry-After`
  rate_limited: {
    status: 429,
    description: 'Over the requests per second of the API key (`details.limit`).',
  },
  concurrency_limit: {
    status: 429,
    description: 'As many jobs queued or running as the tenant may have (`details.limit`).',
  },
  // 5xx: nothing wrong with the request; retry
  internal_error: { status: 500, description: 'A bug; `details.requestId` names it in the logs.' },
  queue_unavailable: { status: 503, description: 'The job could not be queued; retry the request.' },
  service_unavailable: {
    status: 503,
    description: 'A backing service (`details.service`) did not answer; retry after `Retry-After`.',
  },
} as const satisfies Record<string, { status: number; description: string }>;

export type ApiErrorCode = keyof typeof API_ERRORS;
/** The status of a code, as a type: `ApiErrorStatus<'job_not_found'>` is 404. */
export type ApiErrorStatus<C extends ApiErrorCode = ApiErrorCode> = (typeof API_ERRORS)[C]['status'];
/** The codes answered with `status`. */
export type ApiErrorCodeOf<S extends number> = {
  [C in ApiErrorCode]: ApiErrorStatus<C> extends S ? C : never;
}[ApiErrorCode];

/** Codes any route may answer with besides its own: every route, and every route behind an API key. */
export const COMMON_API_ERRORS = {
  all: ['internal_error', 'service_unavailable'],
  auth: ['unauthorized', 'rate_limited'],
} as const satisfies Record<string, readonly ApiErrorCode[]>;

export const isApiErrorCode = (code: string): code is ApiErrorCode => Object.hasOwn(API_ERRORS, code);
