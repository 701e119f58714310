import type { IncomingMessage } from 'node:http';
import { ALGORITHM_QUERY_PARAM } from '@smithy/signature-v4';
import { accessDenied, S3Refusal } from './errors.ts';
import { verifyHeaderAuth } from './headerAuth.ts';
import { type SpooledBody, spoolSignedPayload } from './payload.ts';
import { entityTooLarge, readPostForm } from './postForm.ts';
import { verifyPostPolicy } from './postPolicy.ts';
import { verifyPresignedUrl } from './presignedUrl.ts';
import { decode, queryValue, requestParts } from './request.ts';
import type { S3Accounts } from './signer.ts';

/** An admitted request: forward its body as it streams in, the POST form as checked, or a verified spool file. */
export type Admitted =
  | { body: 'stream' }
  | { body: 'buffered'; bytes: Buffer; contentType: string }
  | { body: 'spooled'; spooled: SpooledBody };

/** What admission checks against: the accounts, the clock, and where verified bodies wait. */
export interface AdmitContext {
  accounts: S3Accounts;
  now: number;
  spoolDir: string;
}

const STREAM: Admitted = { body: 'stream' };

/**
 * Decides whether S3 would accept a request, by its authentication: a SigV4 Authorization header, a presigned URL
 * or a browser POST form with a signed policy. Anything else is anonymous and refused, as by a bucket with
 * public access blocked. CORS preflights (OPTIONS), which S3 answers without credentials, never get here
 * (gateway.ts answers them).
 */
export async function admit(
  req: IncomingMessage,
  { accounts, now, spoolDir }: AdmitContext,
): Promise<Admitted> {
  const parts = requestParts(req);
  const header = parts.headers['authorization'] !== undefined;
  const query = queryValue(parts, ALGORITHM_QUERY_PARAM) !== undefined;
  if (header && query)
    throw new S3Refusal(
      400,
      'InvalidArgument',
      'Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string parameter or the Authorization header should be specified',
    );
  if (header) {
    const payloadHash = await verifyHeaderAuth(parts, accounts, now);
    if (!/^[0-9a-f]{64}$/.test(payloadHash)) return STREAM;
    const spooled = await spoolSignedPayload(req, payloadHash, spoolDir);
    return spooled ? { body: 'spooled', spooled } : STREAM;
  }
  if (query) {
    await verifyPresignedUrl(parts, accounts, now);
    return STREAM;
  }
  const contentType = parts.headers['content-type'] ?? '';
  // A browser upload is a POST to the bucket itself (path style: /bucket).
  const bucket = parts.path.match(/^\/([^/]+)\/?$/)?.[1];
  if (parts.method === 'POST' && bucket && /^multipart\/form-data/i.test(contentType)) {
    let range = { min: 0, max: 0 };
    const form = await readPostForm(req, contentType, async (fields) => {
      range = await verifyPostPolicy(fields, decode(bucket), accounts, now);
      return range.max;
    });
    if (form.fileSize > range.max) throw entityTooLarge();
    if (form.fileSize < range.min)
      throw new S3Refusal(
        400,
        'EntityTooSmall',
        'Your proposed upload is smaller than the minimum allowed size',
      );
    return { body: 'buffered', bytes: form.body, contentType: form.contentType };
  }
  throw accessDenied();
}
