import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { HttpEvent, HttpHandler, HttpResult } from '@obelm/api';
import type { ApiErrorCode } from '@obelm/core';
import type { Context } from 'aws-lambda';
import type { SiteHandler } from './playground.ts';

/** API Gateway's own payload limit (10 MB): larger bodies never reach a handler. */
const GATEWAY_MAX_BODY = 10 * 1024 * 1024;
/** Lambda timeout the local handlers see in `getRemainingTimeInMillis`. */
const TIMEOUT_MS = 30_000;

export interface AdapterRoute {
  method: string;
  /** `/v1/jobs/{id}` */
  path: string;
  routeKey: string;
  handler: HttpHandler;
}

interface CompiledRoute extends AdapterRoute {
  pattern: RegExp;
  params: string[];
}

const compile = (route: AdapterRoute): CompiledRoute => {
  const params: string[] = [];
  const source = route.path.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{(\w+)\}/g, (_m, name: string) => {
    params.push(name);
    return '([^/]+)';
  });
  return { ...route, pattern: new RegExp(`^${source}$`), params };
};

/** The gateway's own refusals, in the API's error shape with codes of its catalog. */
const errorBody = (code: ApiErrorCode, message: string, details: object) =>
  JSON.stringify({ error: { code, message, details } });

/** Whether every percent-escape of the path decodes; API Gateway refuses the request with a 400 if not. */
function decodablePath(path: string): boolean {
  try {
    decodeURIComponent(path);
    return true;
  } catch {
    return false;
  }
}

function send(res: ServerResponse, result: HttpResult, requestId: string): void {
  const body = result.body ?? '';
  res.writeHead(result.statusCode, {
    'x-request-id': requestId,
    ...(result.headers as Record<string, string> | undefined),
    ...(result.cookies?.length ? { 'set-cookie': result.cookies } : {}),
  });
  res.end(result.isBase64Encoded ? Buffer.from(body, 'base64') : body);
}

const lambdaContext = (requestId: string, routeKey: string): Context => {
  const deadline = Date.now() + TIMEOUT_MS;
  const name = `obelm-local-${routeKey.replace(/\W+/g, '-')}`;
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName: name,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:us-east-1:000000000000:function:${name}`,
    memoryLimitInMB: '1024',
    awsRequestId: requestId,
    logGroupName: `/aws/lambda/${name}`,
    logStreamName: 'local',
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
};

/** Builds the HTTP API payload 2.0 event API Gateway would send for this request. */
export function toHttpEvent(
  req: IncomingMessage,
  url: URL,
  body: Buffer,
  route: { routeKey: string; pathParameters?: Record<string, string> },
  requestId: string,
): HttpEvent {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value !== undefined && name !== 'cookie')
      headers[name] = Array.isArray(value) ? value.join(',') : value;
  }
  const query: Record<string, string> = {};
  for (const [name, value] of url.searchParams)
    query[name] = name in query ? `${query[name]},${value}` : value;
  const contentType = headers['content-type'] ?? '';
  const textual = body.length === 0 || /json|text|x-www-form-urlencoded/i.test(contentType);
  const now = new Date();
  return {
    version: '2.0',
    routeKey: route.routeKey,
    rawPath: url.pathname,
    rawQueryString: url.search.slice(1),
    ...(req.headers.cookie ? { cookies: req.headers.cookie.split(/;\s*/) } : {}),
    headers,
    ...(url.search ? { queryStringParameters: query } : {}),
    ...(route.pathParameters ? { pathParameters: route.pathParameters } : {}),
    requestContext: {
      accountId: '000000000000',
      apiId: 'local',
      domainName: headers['host'] ?? 'localhost',
      domainPrefix: (headers['host'] ?? 'localhost').split('.')[0] ?? 'localhost',
      http: {
        method: req.method ?? 'GET',
        path: url.pathname,
        protocol: `HTTP/${req.httpVersion}`,
        sourceIp: req.socket.remoteAddress ?? '127.0.0.1',
        userAgent: headers['user-agent'] ?? '',
      },
      requestId,
      routeKey: route.routeKey,
      stage: '$default',
      time: now.toUTCString(),
      timeEpoch: now.getTime(),
    },
    ...(body.length ? { body: textual ? body.toString('utf8') : body.toString('base64') } : {}),
    isBase64Encoded: !textual,
  };
}

async function readBody(req: IncomingMessage): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > GATEWAY_MAX_BODY) return undefined; // the rest is discarded with the connection
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

export interface ApiServerOptions {
  /** Answers GET and HEAD requests outside `/v1` first (the playground); what it does not serve is 404. */
  site?: SiteHandler;
}

/** The API's own paths: never given to the site. */
const isApiPath = (pathname: string) => pathname === '/v1' || pathname.startsWith('/v1/');

/**
 * A small stand-in for API Gateway (HTTP API): routes `METHOD /path/{param}` to the same Lambda handler
 * functions, built as payload 2.0 events. A path with malformed percent-encoding (`%ZZ`) is 400
 * `malformed_path`, unknown paths 404 `not_found`, a known path with another method 405
 * `method_not_allowed`, bodies over 10 MB 413, as the gateway would answer (in its own words). With a `site`,
 * GET and HEAD requests outside `/v1` go to it first.
 */
export function createApiServer(routes: readonly AdapterRoute[], options: ApiServerOptions = {}): Server {
  const compiled = routes.map(compile);
  const { site } = options;
  return createServer(async (req, res) => {
    const requestId = randomUUID();
    try {
      const url = new URL(req.url ?? '/', 'http://localhost');
      if (!decodablePath(url.pathname)) {
        res.writeHead(400, { 'content-type': 'application/json', 'x-request-id': requestId });
        return void res.end(
          errorBody('malformed_path', `The path has malformed percent-encoding`, { path: url.pathname }),
        );
      }
      const forSite = site && (req.method === 'GET' || req.method === 'HEAD') && !isApiPath(url.pathname);
      if (forSite && (await site(req, res, url.pathname))) return;
      const byPath = compiled
        .map((route) => ({ route, match: route.pattern.exec(url.pathname) }))
        .filter((m) => m.match);
      if (byPath.length === 0) {
        res.writeHead(404, { 'content-type': 'application/json', 'x-request-id': requestId });
        return void res.end(
          errorBody('not_found', `No route ${req.method} ${url.pathname}`, {
            method: req.method,
            path: url.pathname,
          }),
        );
      }
      const found = byPath.find((m) => m.route.method === req.method);
      if (!found?.match) {
        const allow = byPath.map((m) => m.route.method).join(', ');
        res.writeHead(405, { 'content-type': 'application/json', allow, 'x-request-id': requestId });
        return void res.end(
          errorBody('method_not_allowed', `${req.method} is not allowed here; use ${allow}`, {
            method: req.method,
            allowed: byPath.map((m) => m.route.method),
          }),
        );
      }
      const body = await readBody(req);
      if (!body) {
        res.writeHead(413, {
          'content-type': 'application/json',
          connection: 'close',
          'x-request-id': requestId,
        });
        return void res.end(
          errorBody('payload_too_large', 'Request body exceeds 10 MB', { maxBytes: GATEWAY_MAX_BODY }),
        );
      }
      const { route, match } = found;
      const pathParameters = route.params.length
        ? Object.fromEntries(route.params.map((name, i) => [name, decodeURIComponent(match[i + 1] ?? '')]))
        : undefined;
      const event = toHttpEvent(
        req,
        url,
        body,
        { routeKey: route.routeKey, ...(pathParameters ? { pathParameters } : {}) },
        requestId,
      );
      send(res, await route.handler(event, lambdaContext(requestId, route.routeKey)), requestId);
    } catch (err) {
      console.error(err);
      if (!res.headersSent)
        res.writeHead(500, { 'content-type': 'application/json', 'x-request-id': requestId });
      res.end(errorBody('internal_error', 'Internal error', { requestId }));
    }
  });
}
