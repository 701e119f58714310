import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { HANDLER_FACTORIES, ROUTES } from '@obelm/api';
import { HTTP_HANDLERS, QUEUE_HANDLERS, ROUTE_SPECS, SCHEDULED_HANDLERS } from '@obelm/core';
import { describe, expect, it } from 'vitest';
import { HANDLER_GRANTS } from '../../infra/access.ts';
import { HANDLERS_DIR, httpRoutes } from '../../infra/routes.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const sorted = (routes: { route: string; handler: string }[]) =>
  routes.map(({ route, handler }) => `${route} -> ${handler}`).sort();

describe('routes: core, the API package and infra agree', () => {
  it('declares in infra exactly the routes of the core specs', () => {
    expect(sorted(httpRoutes())).toEqual(
      sorted(ROUTE_SPECS.map((s) => ({ route: `${s.method} ${s.path}`, handler: s.handler }))),
    );
  });

  it('serves from the API package exactly the routes infra declares', () => {
    expect(sorted(ROUTES.map((r) => ({ route: r.routeKey, handler: r.handler })))).toEqual(
      sorted(httpRoutes()),
    );
    for (const route of ROUTES) expect(route.build).toBe(HANDLER_FACTORIES[route.handler]);
  });

  it('routes to every HTTP handler, one route key each', () => {
    expect([...new Set(ROUTE_SPECS.map((s) => s.handler))].sort()).toEqual([...HTTP_HANDLERS].sort());
    const keys = httpRoutes().map((r) => r.route);
    expect(new Set(keys).size).toBe(keys.length);
  });
});

describe('Lambda handlers', () => {
  const names = [...HTTP_HANDLERS, ...SCHEDULED_HANDLERS, ...QUEUE_HANDLERS];

  it('has a file exporting `handler` for every handler core names', async () => {
    for (const name of names) {
      const file = join(ROOT, HANDLERS_DIR, `${name}.ts`);
      expect(existsSync(file), file).toBe(true);
      const module = (await import(pathToFileURL(file).href)) as { handler?: unknown };
      expect(typeof module.handler, `${name}.handler`).toBe('function');
    }
  });

  it('has no handler file that core does not name (infra would not deploy it)', () => {
    const files = readdirSync(join(ROOT, HANDLERS_DIR)).filter((f) => f.endsWith('.ts'));
    expect(files.map((f) => f.replace(/\.ts$/, '')).sort()).toEqual([...names].sort());
  });

  it('grants each handler core names its access, and no other', () => {
    expect(Object.keys(HANDLER_GRANTS).sort()).toEqual([...names].sort());
  });
});
