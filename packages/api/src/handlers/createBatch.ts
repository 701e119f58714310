import { CreateBatchRequestSchema, type CreateBatchResponse } from '@obelm/core';
import { createBatch } from '../batches/create.ts';
import { toBatchView } from '../batches/view.ts';
import { type DepsProvider, lambdaDepsProvider } from '../deps.ts';
import { authedRoute } from '../handler.ts';
import { json } from '../http.ts';
import { parseWith, readJsonBody } from '../validation.ts';

/** POST /v1/batches -> 201 with the batch, its prefix and a presigned POST form for its images. */
export const buildCreateBatch = (deps: DepsProvider) =>
  authedRoute(deps, async (event, caller, d) => {
    const req = parseWith(CreateBatchRequestSchema, readJsonBody(event));
    const { batch, upload } = await createBatch(d, caller, req);
    const view = await toBatchView(d, batch);
    const body: CreateBatchResponse = { id: batch.id, prefix: view.prefix, upload, batch: view };
    return json(201, body, { location: `/v1/batches/${batch.id}` });
  });

export const handler = buildCreateBatch(lambdaDepsProvider);
