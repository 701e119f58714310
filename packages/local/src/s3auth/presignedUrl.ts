import {
  ALGORITHM_QUERY_PARAM,
  AMZ_DATE_QUERY_PARAM,
  CREDENTIAL_QUERY_PARAM,
  EXPIRES_QUERY_PARAM,
  MAX_PRESIGNED_TTL,
  SHA256_HEADER,
  SIGNATURE_QUERY_PARAM,
  SIGNED_HEADERS_QUERY_PARAM,
  UNSIGNED_PAYLOAD,
} from '@smithy/signature-v4';
import { accessDenied, S3Refusal, signatureMismatch } from './errors.ts';
import { queryValue, type RequestParts, requireSignedAmzHeaders, signable } from './request.ts';
import { parseAmzDate, resolveCredential, type S3Accounts, SIGV4, sameSignature } from './signer.ts';

const REQUIRED = [
  ALGORITHM_QUERY_PARAM,
  CREDENTIAL_QUERY_PARAM,
  SIGNATURE_QUERY_PARAM,
  AMZ_DATE_QUERY_PARAM,
  SIGNED_HEADERS_QUERY_PARAM,
  EXPIRES_QUERY_PARAM,
];

const queryError = (message: string) => new S3Refusal(400, 'AuthorizationQueryParametersError', message);

/**
 * Verifies a presigned URL (X-Amz-* query parameters): refuses it once X-Amz-Date + X-Amz-Expires has passed,
 * then presigns the same request with the SDK's SignatureV4 (same method, path, query, signed headers, date and
 * expiry; the payload is UNSIGNED-PAYLOAD as for every presigned S3 URL) and compares the signatures. A changed
 * key, method, expiry or any other query parameter therefore no longer matches.
 */
export async function verifyPresignedUrl(
  parts: RequestParts,
  accounts: S3Accounts,
  now: number,
): Promise<void> {
  const param = (name: string) => queryValue(parts, name) ?? '';
  if (REQUIRED.some((name) => queryValue(parts, name) === undefined))
    throw queryError(`Query-string authentication version 4 requires the ${REQUIRED.join(', ')} parameters.`);
  if (param(ALGORITHM_QUERY_PARAM) !== SIGV4) throw queryError(`X-Amz-Algorithm only supports "${SIGV4}"`);
  const credential = resolveCredential(accounts, param(CREDENTIAL_QUERY_PARAM), () =>
    queryError('Error parsing the X-Amz-Credential parameter; the Credential is mal-formed.'),
  );
  const amzDate = param(AMZ_DATE_QUERY_PARAM);
  const signingDate = parseAmzDate(amzDate);
  if (!signingDate || amzDate.slice(0, 8) !== credential.shortDate)
    throw queryError(
      "X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\" and match the credential date",
    );
  const expiresIn = Number(param(EXPIRES_QUERY_PARAM));
  if (!Number.isInteger(expiresIn) || expiresIn < 0) throw queryError('X-Amz-Expires should be a number');
  if (expiresIn > MAX_PRESIGNED_TTL)
    throw queryError(`X-Amz-Expires must be less than a week (in seconds) that is ${MAX_PRESIGNED_TTL}`);
  if (now < signingDate.getTime()) throw accessDenied('Request is not valid yet');
  if (now > signingDate.getTime() + expiresIn * 1000) throw accessDenied('Request has expired');

  const signed = param(SIGNED_HEADERS_QUERY_PARAM).split(';');
  if (!signed.includes('host')) throw signatureMismatch();
  requireSignedAmzHeaders(parts, signed);
  const query = { ...parts.query };
  delete query[SIGNATURE_QUERY_PARAM];
  const request = signable(parts, signed, query, { [SHA256_HEADER]: UNSIGNED_PAYLOAD });
  const presigned = await credential.signer.presign(request, {
    signingDate,
    expiresIn,
    signableHeaders: new Set(signed),
    unsignableHeaders: new Set(signed.includes(SHA256_HEADER) ? [] : [SHA256_HEADER]),
    // The query already holds what the client hoisted; the headers stay headers.
    unhoistableHeaders: new Set(Object.keys(request.headers)),
  });
  const expected = presigned.query?.[SIGNATURE_QUERY_PARAM];
  if (typeof expected !== 'string' || !sameSignature(expected, param(SIGNATURE_QUERY_PARAM)))
    throw signatureMismatch();
}
