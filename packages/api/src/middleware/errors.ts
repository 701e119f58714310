import { randomUUID } from 'node:crypto';
import type { MiddlewareObj } from '@middy/core';
import { ApiError, classify, describeError } from '@obelm/core';
import { serviceOf } from '../deps.ts';
import { type HttpEvent, type HttpResult, json } from '../http.ts';
import { apiLog } from '../log.ts';

export const REQUEST_ID_HEADER = 'x-request-id';

/** Seconds a client is asked to wait after a 503: a backing service that failed past the SDK's retries. */
export const RETRY_AFTER_SECONDS = 2;

/** The request id: API Gateway's own when there is one, so logs and responses agree. */
const requestIdOf = (event: HttpEvent): string => event.requestContext?.requestId || randomUUID();

/**
 * The one error mapping of the API, used by every handler: an ApiError becomes its status and
 * `{error: {code, message, details}}`; a passing fault of S3, SQS or DynamoDB (core `classify`: transient)
 * a 503 `service_unavailable` naming the service; anything else is logged and becomes a 500
 * `internal_error` that leaks nothing. Every 503 carries Retry-After, and so does an ApiError that sets
 * `retryAfterSeconds` (the 429s); every response, the request id.
 */
export function httpErrors(): MiddlewareObj<HttpEvent, HttpResult> {
  return {
    name: 'httpErrors',
    after: (request) => {
      const response = request.response;
      if (response) {
        response.headers = { ...response.headers, [REQUEST_ID_HEADER]: requestIdOf(request.event) };
      }
    },
    onError: (request) => {
      const requestId = requestIdOf(request.event);
      const err = request.error;
      const error = err instanceof ApiError ? err : unexpected(err, requestId);
      const retryAfter = error.retryAfterSeconds ?? (error.status === 503 ? RETRY_AFTER_SECONDS : undefined);
      const retry: Record<string, string> =
        retryAfter === undefined ? {} : { 'retry-after': String(retryAfter) };
      return json(error.status, error.toBody(), { [REQUEST_ID_HEADER]: requestId, ...retry });
    },
  };
}

function unexpected(err: unknown, requestId: string): ApiError {
  if (classify(err).kind === 'transient') {
    const service = serviceOf(err) ?? 'unknown';
    apiLog.warn('service unavailable', { requestId, service, ...describeError(err) });
    return new ApiError(503, 'service_unavailable', `${service} is unavailable; retry shortly`, {
      service,
      requestId,
    });
  }
  apiLog.error('unhandled error', { requestId, ...describeError(err, { stack: true }) });
  return new ApiError(500, 'internal_error', 'Internal error', { requestId });
}
