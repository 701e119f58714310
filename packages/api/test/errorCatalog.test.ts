import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  API_ERRORS,
  type ApiErrorCode,
  badRequest,
  conflict,
  isApiErrorCode,
  notFound,
  ROUTE_SPECS,
} from '@obelm/core';
import { describe, expect, it } from 'vitest';
import { openApiDocument, routeErrors } from '../src/openapi.ts';

/** Every error code has one status (core errorCatalog.ts); the OpenAPI document and the throw sites agree. */

const root = join(import.meta.dirname, '../../..');
const sources = (dir: string) =>
  readdirSync(join(root, dir), { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts'))
    .map((e) => readFileSync(join(e.parentPath, e.name), 'utf8'))
    .join('\n');

/** `[status, code]` of every literal throw site: `new ApiError(413, 'x', ...)`, `badRequest('x', ...)`, .... */
function thrown(source: string): [number, string][] {
  const helpers = { badRequest: 400, notFound: 404, conflict: 409 } as Record<string, number>;
  return [
    ...[...source.matchAll(/new ApiError\(\s*(\d{3}),\s*'(\w+)'/g)].map((m): [number, string] => [
      Number(m[1]),
      m[2]!,
    ]),
    ...[...source.matchAll(/\b(badRequest|notFound|conflict)\(\s*'(\w+)'/g)].map((m): [number, string] => [
      helpers[m[1]!]!,
      m[2]!,
    ]),
    ...[...source.matchAll(/errorBody\(\s*'(\w+)'/g)].map((m): [number, string] => [0, m[1]!]),
  ];
}

describe('error catalog', () => {
  it('gives every code an error status and a description', () => {
    for (const [code, { status, description }] of Object.entries(API_ERRORS)) {
      expect(status, code).toBeGreaterThanOrEqual(400);
      expect(status, code).toBeLessThan(600);
      expect(description.length, code).toBeGreaterThan(10);
    }
  });

  it('builds errors with the status of their code', () => {
    expect(badRequest('invalid_image', 'm', { field: 'image' }).status).toBe(400);
    expect(notFound('job_not_found', 'm', { jobId: 'j' }).status).toBe(404);
    expect(conflict('job_finished', 'm', { status: 'succeeded' }).toBody()).toEqual({
      error: { code: 'job_finished', message: 'm', details: { status: 'succeeded' } },
    });
  });

  it('matches every throw site of the API and the gateway, and each code thrown is listed by a route', () => {
    const listed = new Set(ROUTE_SPECS.flatMap(routeErrors));
    const sites = [...thrown(sources('packages/api/src')), ...thrown(sources('packages/local/src'))];
    expect(sites.length).toBeGreaterThan(20);
    for (const [status, code] of sites) {
      expect(isApiErrorCode(code), code).toBe(true);
      if (status) expect(status, code).toBe(API_ERRORS[code as ApiErrorCode].status);
      // The gateway's own refusals (no route, wrong method) are answered before any route is chosen.
      if (!['not_found', 'method_not_allowed'].includes(code))
        expect(listed.has(code as ApiErrorCode), code).toBe(true);
    }
  });
});

describe('OpenAPI error responses', () => {
  const doc = openApiDocument();

  it('lists each code of a route under its own status, with its description, and nothing else', () => {
    for (const spec of ROUTE_SPECS) {
      const responses = doc.paths[spec.path]![spec.method.toLowerCase()] as {
        responses: Record<
          string,
          { description: string; content: { 'application/json': { schema: unknown } } }
        >;
      };
      const codes = routeErrors(spec);
      const statuses = [...new Set(codes.map((c) => String(API_ERRORS[c].status)))].sort();
      const documented = Object.keys(responses.responses).filter(
        (s) => s !== 'default' && s !== String(spec.status),
      );
      expect(documented.sort(), spec.path).toEqual(statuses);
      for (const status of statuses) {
        const response = responses.responses[status]!;
        const schema = response.content['application/json'].schema as {
          allOf: [unknown, { properties: { error: { properties: { code: { enum: string[] } } } } }];
        };
        const listed = schema.allOf[1].properties.error.properties.code.enum;
        expect(listed.sort(), `${spec.path} ${status}`).toEqual(
          codes.filter((c) => String(API_ERRORS[c].status) === status).sort(),
        );
        for (const code of listed)
          expect(response.description).toContain(
            `\`${code}\`: ${API_ERRORS[code as ApiErrorCode].description}`,
          );
      }
    }
  });

  it('no longer files every error under 400', () => {
    const create = doc.paths['/v1/jobs']!['post'] as { responses: Record<string, { description: string }> };
    expect(Object.keys(create.responses).sort()).toEqual([
      '202',
      '400',
      '401',
      '402',
      '404',
      '409',
      '413',
      '429',
      '500',
      '503',
      'default',
    ]);
    expect(create.responses['400']!.description).not.toContain('upload_pending');
    expect(create.responses['409']!.description).toContain('upload_pending');
    expect(create.responses['413']!.description).toContain('image_too_large');
    expect(create.responses['503']!.description).toContain('service_unavailable');
    const models = doc.paths['/v1/models']!['get'] as { responses: Record<string, unknown> };
    expect(Object.keys(models.responses).sort()).toEqual(['200', '401', '429', '500', '503', 'default']);
  });
});
