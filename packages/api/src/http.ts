import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';

/** API Gateway HTTP API (payload 2.0) shapes: what every handler takes and returns. */
export type HttpEvent = APIGatewayProxyEventV2;
export type HttpResult = APIGatewayProxyStructuredResultV2 & { statusCode: number };

/** Lambda's synchronous payload limit is 6 MB; a base64 image of 4 MiB fits with room for the rest. */
export const MAX_BODY_BYTES = 6 * 1024 * 1024;

export const json = (
  statusCode: number,
  body: unknown,
  headers: Record<string, string> = {},
): HttpResult => ({
  statusCode,
  headers: { 'content-type': 'application/json', ...headers },
  body: JSON.stringify(body),
});

/** A header by name; HTTP API events carry lower-case header names. */
export const header = (event: HttpEvent, name: string): string | undefined =>
  event.headers?.[name.toLowerCase()];
