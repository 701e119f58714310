import { PutCommand } from '@aws-sdk/lib-dynamodb';
import {
  CreateUploadRequestSchema,
  dbKeys,
  newId,
  s3Keys,
  ttlAfter,
  type UploadItem,
  type UploadResponse,
} from '@obelm/core';
import { type DepsProvider, lambdaDepsProvider } from '../deps.ts';
import { authedRoute } from '../handler.ts';
import { json } from '../http.ts';
import { imageUploadForm } from '../images/uploadForm.ts';
import { parseWith, readJsonBody } from '../validation.ts';

/**
 * POST /v1/uploads -> a presigned POST form for one image: S3 itself enforces the size range and the
 * Content-Type, so large images never pass through the API. The upload slot is recorded with its tenant,
 * and outlives the form by the job TTL so a job can still name it later.
 */
export const buildCreateUpload = (deps: DepsProvider) =>
  authedRoute(deps, async (event, caller, d) => {
    const { contentType } = parseWith(CreateUploadRequestSchema, readJsonBody(event, { optional: true }));
    const { config } = d;
    const now = d.now();
    const uploadId = newId('upl', now.getTime());
    const key = s3Keys.upload(caller.tenant, uploadId);
    const { url, fields, maxBytes, expiresAt } = await imageUploadForm(d, key, contentType, now);
    const item: UploadItem = {
      uploadId,
      tenant: caller.tenant,
      key,
      contentType,
      maxBytes,
      createdAt: now.toISOString(),
      expiresAt,
      ttl: ttlAfter(now, config.OBELM_PRESIGN_SECONDS + config.OBELM_JOB_TTL_SECONDS),
    };
    await d.db.send(
      new PutCommand({
        TableName: config.OBELM_TABLE,
        Item: { ...dbKeys.upload(uploadId), ...item },
        ConditionExpression: 'attribute_not_exists(pk)',
      }),
    );
    const body: UploadResponse = { uploadId, url, fields, maxBytes, expiresAt };
    return json(201, body);
  });

export const handler = buildCreateUpload(lambdaDepsProvider);
