import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import type { Deps, DepsProvider } from './deps.ts';
import type { HttpEvent, HttpResult } from './http.ts';
import { type AuthedEvent, apiKeyAuth, type Caller } from './middleware/auth.ts';
import { httpErrors } from './middleware/errors.ts';
import { rateLimit } from './middleware/rateLimit.ts';

export type HttpHandler = (event: HttpEvent, context: Context) => Promise<HttpResult>;
export type HandlerFactory = (deps: DepsProvider) => HttpHandler;

/**
 * An authenticated route: the API key checked (auth.ts), the request counted against the key's rate limit
 * (rateLimit.ts), then the body, which sees the caller's tenant and limits and the deps.
 */
export function authedRoute(
  deps: DepsProvider,
  body: (event: HttpEvent, caller: Caller, deps: Deps, context: Context) => Promise<HttpResult>,
): HttpHandler {
  return middy<HttpEvent, HttpResult>()
    .use(httpErrors())
    .use(apiKeyAuth(deps))
    .use(rateLimit(deps))
    .handler(async (event, context) => body(event, (event as AuthedEvent).caller, deps(), context));
}

/** A public route (no API key). */
export function publicRoute(body: (event: HttpEvent) => Promise<HttpResult>): HttpHandler {
  return middy<HttpEvent, HttpResult>()
    .use(httpErrors())
    .handler(async (event) => body(event));
}
