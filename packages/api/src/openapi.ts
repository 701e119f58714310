import {
  API_ERRORS,
  type ApiErrorCode,
  COMMON_API_ERRORS,
  ErrorBodySchema,
  ROUTE_SPECS,
  type RouteSpec,
} from '@obelm/core';
import { z } from 'zod';

/** Schemas as OpenAPI 3.1 (JSON Schema 2020-12) from the same zod schemas that validate requests. */
const schemaOf = (schema: z.ZodType, io: 'input' | 'output') => {
  const { $schema: _drop, ...rest } = z.toJSONSchema(schema, { io, unrepresentable: 'any' }) as Record<
    string,
    unknown
  >;
  return rest;
};

const ERROR_REF = { $ref: '#/components/schemas/Error' };

/** Every code a route may answer with: its own, then the ones every (authenticated) route may. */
export const routeErrors = (spec: RouteSpec): ApiErrorCode[] => [
  ...new Set<ApiErrorCode>([
    ...spec.errors,
    ...(spec.auth ? COMMON_API_ERRORS.auth : []),
    ...COMMON_API_ERRORS.all,
  ]),
];

/**
 * One response per status, from the error catalog: its codes (as an enum on `error.code`) and what each
 * means. A client can tell from the document which codes a status may carry.
 */
function errorResponses(spec: RouteSpec): Record<string, object> {
  const byStatus = new Map<number, ApiErrorCode[]>();
  for (const code of routeErrors(spec)) {
    const status = API_ERRORS[code].status;
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  const responses: Record<string, object> = {};
  for (const [status, codes] of [...byStatus].sort(([a], [b]) => a - b)) {
    responses[status] = {
      description: codes.map((code) => `\`${code}\`: ${API_ERRORS[code].description}`).join('\n'),
      content: {
        'application/json': {
          schema: {
            allOf: [
              ERROR_REF,
              { properties: { error: { properties: { code: { type: 'string', enum: codes } } } } },
            ],
          },
        },
      },
    };
  }
  return responses;
}

/** Query parameters of a route, one per property of its (object) query schema. */
function queryParameters(spec: RouteSpec) {
  if (!spec.query) return [];
  const schema = schemaOf(spec.query, 'input') as {
    properties?: Record<string, object>;
    required?: string[];
  };
  return Object.entries(schema.properties ?? {}).map(([name, s]) => ({
    name,
    in: 'query',
    required: schema.required?.includes(name) ?? false,
    schema: s,
  }));
}

function operation(spec: RouteSpec) {
  const pathParams = [...spec.path.matchAll(/\{(\w+)\}/g)].map((m) => ({
    name: m[1],
    in: 'path',
    required: true,
    schema: { type: 'string' },
  }));
  const idempotency =
    spec.method === 'POST' && spec.path === '/v1/jobs'
      ? [
          {
            name: 'Idempotency-Key',
            in: 'header',
            required: false,
            description: 'Same key and body within 24 h: the original job (200). Different body: 409.',
            schema: { type: 'string', maxLength: 255 },
          },
        ]
      : [];
  const parameters = [...pathParams, ...queryParameters(spec), ...idempotency];
  return {
    summary: spec.summary,
    operationId: spec.handler,
    ...(spec.auth ? {} : { security: [] }),
    ...(parameters.length ? { parameters } : {}),
    ...(spec.body
      ? {
          requestBody: {
            required: spec.path !== '/v1/uploads',
            content: { 'application/json': { schema: schemaOf(spec.body, 'input') } },
          },
        }
      : {}),
    responses: {
      [spec.status]: {
        description: 'Success',
        content: { 'application/json': { schema: schemaOf(spec.response, 'output') } },
      },
      ...errorResponses(spec),
      default: {
        description: 'Any other error (e.g. of the gateway), same shape',
        content: { 'application/json': { schema: ERROR_REF } },
      },
    },
  };
}

/** The OpenAPI 3.1 document of the API: every route, the bearer-key security scheme and the error shape. */
export function openApiDocument(serverUrl?: string) {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const spec of ROUTE_SPECS) {
    paths[spec.path] ??= {};
    paths[spec.path]![spec.method.toLowerCase()] = operation(spec);
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'obelm',
      version: '1.0.0',
      description: 'Exact-inversion diffusion image editing (O-BELM sampler), pay per job.',
    },
    ...(serverUrl ? { servers: [{ url: serverUrl }] } : {}),
    security: [{ apiKey: [] }],
    paths,
    components: {
      securitySchemes: {
        apiKey: { type: 'http', scheme: 'bearer', description: 'Authorization: Bearer <api key>' },
      },
      schemas: { Error: schemaOf(ErrorBodySchema, 'output') },
    },
  };
}
