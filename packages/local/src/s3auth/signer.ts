import { timingSafeEqual } from 'node:crypto';
import { Sha256 } from '@smithy/core/checksum';
import { ALGORITHM_IDENTIFIER, KEY_TYPE_IDENTIFIER, SignatureV4 } from '@smithy/signature-v4';
import { S3Refusal } from './errors.ts';

/** The accounts the gateway knows: access key id -> secret access key. */
export type S3Accounts = Readonly<Record<string, string>>;

/** The request shape `SignatureV4.sign` and `presign` take. */
export type SignableRequest = Parameters<SignatureV4['presign']>[0];

/** A credential (`AKID/20250101/us-east-1/s3/aws4_request`) resolved against the accounts, with its signer. */
export interface Credential {
  accessKeyId: string;
  shortDate: string;
  region: string;
  signer: SignatureV4;
}

/**
 * Resolves a SigV4 credential string: a malformed one is `malformed`, an unknown key id InvalidAccessKeyId. The
 * signer is the AWS SDK's own, configured as the S3 client configures it (no path escaping, no added checksum), so
 * re-signing the request a client sent yields the signature it should carry.
 */
export function resolveCredential(
  accounts: S3Accounts,
  value: string,
  malformed: () => S3Refusal,
): Credential {
  const [accessKeyId, shortDate, region, service, terminator, ...rest] = value.split('/');
  if (
    !accessKeyId ||
    !shortDate ||
    !region ||
    service !== 's3' ||
    terminator !== KEY_TYPE_IDENTIFIER ||
    rest.length
  )
    throw malformed();
  const secretAccessKey = Object.hasOwn(accounts, accessKeyId) ? accounts[accessKeyId] : undefined;
  if (secretAccessKey === undefined)
    throw new S3Refusal(
      403,
      'InvalidAccessKeyId',
      'The AWS Access Key Id you provided does not exist in our records.',
    );
  const signer = new SignatureV4({
    service,
    region,
    credentials: { accessKeyId, secretAccessKey },
    sha256: Sha256,
    uriEscapePath: false,
    applyChecksum: false,
  });
  return { accessKeyId, shortDate, region, signer };
}

/** `20250101T120000Z` -> a Date, or undefined when it is not one. */
export function parseAmzDate(value: string | undefined): Date | undefined {
  const m = value?.match(/^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/);
  if (!m) return undefined;
  const date = new Date(`${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}Z`);
  return Number.isNaN(date.getTime()) ? undefined : date;
}

/** The algorithm every SigV4 request names. */
export const SIGV4 = ALGORITHM_IDENTIFIER;

/** Compares two hex signatures without leaking where they differ. */
export function sameSignature(expected: string, given: string): boolean {
  const a = Buffer.from(expected);
  const b = Buffer.from(given);
  return a.length === b.length && timingSafeEqual(a, b);
}
