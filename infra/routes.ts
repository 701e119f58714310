import { type HandlerName, ROUTE_SPECS, type RouteSpec, routeKey } from '@obelm/core';

/** One API Gateway route and the Lambda handler behind it. */
export interface HttpRoute {
  /** `METHOD /path`, API Gateway's routeKey. */
  route: string;
  handler: HandlerName;
}

/** The routes the HTTP API declares: read from core's route specs, never listed here. */
export function httpRoutes(specs: readonly RouteSpec[] = ROUTE_SPECS): HttpRoute[] {
  return specs.map((spec) => ({ route: routeKey(spec), handler: spec.handler }));
}

/** The Lambda handlers' folder (repo-relative): `<name>.ts` in it exports the wrapped `handler` of `<name>`. */
export const HANDLERS_DIR = 'packages/api/src/handlers';
