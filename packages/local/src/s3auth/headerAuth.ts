import { S3Refusal, signatureMismatch } from './errors.ts';
import type { RequestParts } from './request.ts';
import { requireSignedAmzHeaders, signable } from './request.ts';
import { parseAmzDate, resolveCredential, type S3Accounts, SIGV4, sameSignature } from './signer.ts';

/** How far a header-signed request's x-amz-date may be from the server's clock, as in S3. */
export const MAX_SKEW_MS = 15 * 60_000;

const AUTHORIZATION = new RegExp(
  `^${SIGV4} Credential=([^,\\s]+),\\s*SignedHeaders=([a-z0-9;-]+),\\s*Signature=([0-9a-f]{64})$`,
);
/** The payload hashes the SDK sends: a hex SHA-256, UNSIGNED-PAYLOAD, or one of the STREAMING-* modes. */
const PAYLOAD_HASH = /^(UNSIGNED-PAYLOAD|STREAMING-[A-Z0-9-]+|[0-9a-f]{64})$/;

const malformed = (why: string) =>
  new S3Refusal(400, 'AuthorizationHeaderMalformed', `The authorization header is malformed; ${why}`);

/**
 * Verifies an `Authorization: AWS4-HMAC-SHA256 ...` request by signing it again with the SDK's SignatureV4: the
 * same method, raw path, query and signed headers, at the request's own x-amz-date, with the payload hash the
 * client declared. For STREAMING-AWS4-HMAC-SHA256-PAYLOAD this checks the seed signature only; chunk signatures
 * are not checked (s3rver does not decode aws-chunked bodies, and the SDK clients here never send them).
 * Returns the declared payload hash.
 */
export async function verifyHeaderAuth(
  parts: RequestParts,
  accounts: S3Accounts,
  now: number,
): Promise<string> {
  const match = parts.headers['authorization']?.match(AUTHORIZATION);
  if (!match)
    throw malformed('expecting "AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...".');
  const [, credentialValue, signedList, signature] = match as unknown as [string, string, string, string];
  const credential = resolveCredential(accounts, credentialValue, () =>
    malformed('the Credential is mal-formed; expecting "<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request".'),
  );
  const amzDate = parts.headers['x-amz-date'];
  const signingDate = parseAmzDate(amzDate);
  if (!amzDate || !signingDate)
    throw new S3Refusal(403, 'AccessDenied', 'AWS authentication requires a valid Date or x-amz-date header');
  if (amzDate.slice(0, 8) !== credential.shortDate)
    throw malformed('Invalid credential date. Date is not the same as X-Amz-Date.');
  if (Math.abs(now - signingDate.getTime()) > MAX_SKEW_MS)
    throw new S3Refusal(
      403,
      'RequestTimeTooSkewed',
      'The difference between the request time and the current time is too large.',
    );
  const payloadHash = parts.headers['x-amz-content-sha256'];
  if (!payloadHash)
    throw new S3Refusal(
      400,
      'InvalidRequest',
      'Missing required header for this request: x-amz-content-sha256',
    );
  if (!PAYLOAD_HASH.test(payloadHash))
    throw new S3Refusal(
      400,
      'InvalidArgument',
      'x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-*, or a valid sha256 value.',
    );

  const signed = signedList.split(';');
  if (!signed.includes('host')) throw signatureMismatch();
  requireSignedAmzHeaders(parts, signed);
  // The payload hash and date reach the signer as headers; they count as signed only if the client signed them.
  const extra = { 'x-amz-content-sha256': payloadHash, 'x-amz-date': amzDate };
  const resigned = await credential.signer.sign(signable(parts, signed, parts.query, extra), {
    signingDate,
    signableHeaders: new Set(signed),
    unsignableHeaders: new Set(Object.keys(extra).filter((name) => !signed.includes(name))),
  });
  const expected = String(resigned.headers['authorization']).match(/Signature=([0-9a-f]{64})$/)?.[1] ?? '';
  if (!sameSignature(expected, signature)) throw signatureMismatch();
  return payloadHash;
}
