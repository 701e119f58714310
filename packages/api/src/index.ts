export { createDeps, type Deps, type DepsProvider, type Env, lambdaDepsProvider } from './deps.ts';
export type { HandlerFactory, HttpHandler } from './handler.ts';
export { type HttpEvent, type HttpResult, MAX_BODY_BYTES } from './http.ts';
export { hashApiKey } from './middleware/auth.ts';
export { REQUEST_ID_HEADER } from './middleware/errors.ts';
export { openApiDocument } from './openapi.ts';
export { ROUTE_SPECS, type RouteSpec } from './routeSpecs.ts';
export { ROUTES, type Route } from './routes.ts';
export { type SweepOptions, type SweepReport, sweepJobs } from './sweeper.ts';
