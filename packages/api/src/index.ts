/** Moved to the store (one home of the catalog's items); kept here for code that imported it from the API. */
export { publishModel } from '@obelm/store';
export { createDeps, type Deps, type DepsProvider, type Env, lambdaDepsProvider } from './deps.ts';
export type { HandlerFactory, HttpHandler } from './handler.ts';
export { buildBatchTrigger } from './handlers/batchTrigger.ts';
export { buildWebhookDispatcher } from './handlers/webhookDispatcher.ts';
export { type HttpEvent, type HttpResult, MAX_BODY_BYTES } from './http.ts';
export { applyTransition } from './jobs/store.ts';
export { REQUEST_ID_HEADER } from './middleware/errors.ts';
export { CATALOG_TTL_MS, createModelCatalog, type ModelCatalog } from './models/catalog.ts';
export { openApiDocument } from './openapi.ts';
export { HANDLER_FACTORIES, ROUTES, type Route } from './routes.ts';
export { SETTLE_MS, type SweepOptions, type SweepReport, sweepJobs } from './sweeper.ts';
