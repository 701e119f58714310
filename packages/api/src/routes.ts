import type { HandlerFactory } from './handler.ts';
import { buildCancelJob } from './handlers/cancelJob.ts';
import { buildCreateJob } from './handlers/createJob.ts';
import { buildCreateUpload } from './handlers/createUpload.ts';
import { buildGetJob } from './handlers/getJob.ts';
import { buildListJobs } from './handlers/listJobs.ts';
import { buildOpenApi } from './handlers/openapi.ts';
import { ROUTE_SPECS, type RouteSpec } from './routeSpecs.ts';

/** The handler factory behind each route file: what a non-Lambda host (the local stack) serves. */
const FACTORIES: Record<string, HandlerFactory> = {
  'createJob.ts': buildCreateJob,
  'getJob.ts': buildGetJob,
  'listJobs.ts': buildListJobs,
  'cancelJob.ts': buildCancelJob,
  'createUpload.ts': buildCreateUpload,
  'openapi.ts': () => buildOpenApi(),
};

export interface Route extends RouteSpec {
  /** `METHOD /path`, as API Gateway's routeKey. */
  routeKey: string;
  build: HandlerFactory;
}

export const ROUTES: readonly Route[] = ROUTE_SPECS.map((spec) => {
  const build = FACTORIES[spec.handlerFile];
  if (!build) throw new Error(`No handler for ${spec.handlerFile}`);
  return { ...spec, routeKey: `${spec.method} ${spec.path}`, build };
});
