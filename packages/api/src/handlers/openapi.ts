import { publicRoute } from '../handler.ts';
import { json } from '../http.ts';
import { openApiDocument } from '../openapi.ts';

let document: ReturnType<typeof openApiDocument> | undefined;

/** GET /v1/openapi.json (no auth): generated once per container from the request schemas. */
export const buildOpenApi = () =>
  publicRoute(async () => {
    document ??= openApiDocument();
    return json(200, document, { 'cache-control': 'public, max-age=300' });
  });

export const handler = buildOpenApi();
