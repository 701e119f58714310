import { randomUUID } from 'node:crypto';
import type { MiddlewareObj } from '@middy/core';
import { ApiError, describeError } from '@obelm/core';
import { type HttpEvent, type HttpResult, json } from '../http.ts';
import { apiLog } from '../log.ts';

export const REQUEST_ID_HEADER = 'x-request-id';

/** The request id: API Gateway's own when there is one, so logs and responses agree. */
const requestIdOf = (event: HttpEvent): string => event.requestContext?.requestId || randomUUID();

/**
 * The one error mapping of the API, used by every handler: an ApiError becomes its status and
 * `{error: {code, message, details}}`; anything else is logged and becomes a 500 `internal_error` that
 * leaks nothing. Every response, good or bad, carries the request id.
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
      if (err instanceof ApiError) {
        return json(err.status, err.toBody(), { [REQUEST_ID_HEADER]: requestId });
      }
      apiLog.error('unhandled error', { requestId, ...describeError(err, { stack: true }) });
      const internal = new ApiError(500, 'internal_error', 'Internal error', { requestId });
      return json(500, internal.toBody(), { [REQUEST_ID_HEADER]: requestId });
    },
  };
}
