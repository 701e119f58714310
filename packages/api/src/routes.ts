import { type HandlerName, ROUTE_SPECS, type RouteSpec, routeKey } from '@obelm/core';
import type { HandlerFactory } from './handler.ts';
import { buildCancelJob } from './handlers/cancelJob.ts';
import { buildCloseBatch } from './handlers/closeBatch.ts';
import { buildCreateBatch } from './handlers/createBatch.ts';
import { buildCreateJob } from './handlers/createJob.ts';
import { buildCreateUpload } from './handlers/createUpload.ts';
import { buildDeleteJob } from './handlers/deleteJob.ts';
import { buildGetBatch } from './handlers/getBatch.ts';
import { buildGetJob } from './handlers/getJob.ts';
import { buildGetUsage } from './handlers/getUsage.ts';
import { buildGetWebhookSecret } from './handlers/getWebhookSecret.ts';
import { buildListJobs } from './handlers/listJobs.ts';
import { buildListModels } from './handlers/listModels.ts';
import { buildOpenApi } from './handlers/openapi.ts';
import { buildRedeliverWebhook } from './handlers/redeliverWebhook.ts';
import { buildRotateWebhookSecret } from './handlers/rotateWebhookSecret.ts';

/**
 * The factory behind each HTTP handler: what a non-Lambda host (the local stack) serves. Keyed by core's
 * handler names, so a handler added there without a factory here fails the type-check.
 */
export const HANDLER_FACTORIES: Record<HandlerName, HandlerFactory> = {
  createJob: buildCreateJob,
  getJob: buildGetJob,
  listJobs: buildListJobs,
  cancelJob: buildCancelJob,
  createUpload: buildCreateUpload,
  openapi: () => buildOpenApi(),
  listModels: buildListModels,
  deleteJob: buildDeleteJob,
  getUsage: buildGetUsage,
  createBatch: buildCreateBatch,
  getBatch: buildGetBatch,
  closeBatch: buildCloseBatch,
  getWebhookSecret: buildGetWebhookSecret,
  rotateWebhookSecret: buildRotateWebhookSecret,
  redeliverWebhook: buildRedeliverWebhook,
};

export interface Route extends RouteSpec {
  /** `METHOD /path`, as API Gateway's routeKey. */
  routeKey: string;
  build: HandlerFactory;
}

export const ROUTES: readonly Route[] = ROUTE_SPECS.map((spec) => ({
  ...spec,
  routeKey: routeKey(spec),
  build: HANDLER_FACTORIES[spec.handler],
}));
