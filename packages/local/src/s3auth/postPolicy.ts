import { accessDenied, S3Refusal, signatureMismatch } from './errors.ts';
import { parseAmzDate, resolveCredential, type S3Accounts, SIGV4, sameSignature } from './signer.ts';

/** The file size a policy allows (`content-length-range`), in bytes. */
export interface SizeRange {
  min: number;
  max: number;
}

/** S3's largest POST upload, the bound when a policy names no content-length-range. */
const MAX_POST_BYTES = 5 * 1024 ** 3;

/** Fields a policy need not name (S3's rule); every other field must match a condition. */
const EXEMPT = new Set(['x-amz-signature', 'file', 'policy']);

const policyFailed = (condition: unknown) =>
  accessDenied(`Invalid according to Policy: Policy Condition failed: ${JSON.stringify(condition)}`);
const invalidPolicy = (why: string) => new S3Refusal(400, 'InvalidPolicyDocument', `Invalid Policy: ${why}`);

/**
 * Verifies a browser POST upload's fields as S3 does for SigV4 (the form's file is checked afterwards against the
 * returned size range): the signature is the SDK signer's `sign(policy)` (an HMAC of the base64 policy with the
 * key derived for the credential's date, region and service), the policy has not expired, and every condition
 * holds: exact matches (`{"key": ...}`, `["eq", "$name", ...]`), `starts-with`, the bucket the form was posted to;
 * and no field goes unnamed by the policy.
 */
export async function verifyPostPolicy(
  fields: Record<string, string>,
  bucket: string,
  accounts: S3Accounts,
  now: number,
): Promise<SizeRange> {
  const policy = fields['policy'];
  const signature = fields['x-amz-signature'];
  if (!policy || !signature) throw accessDenied();
  if (fields['x-amz-algorithm'] !== SIGV4)
    throw new S3Refusal(400, 'InvalidArgument', `Only the ${SIGV4} algorithm is supported for POST policies`);
  if (fields['key'] === undefined)
    throw new S3Refusal(400, 'InvalidArgument', "Bucket POST must contain a field named 'key'.");
  const credential = resolveCredential(
    accounts,
    fields['x-amz-credential'] ?? '',
    () => new S3Refusal(400, 'InvalidArgument', 'X-Amz-Credential is mal-formed'),
  );
  const signingDate = parseAmzDate(fields['x-amz-date']);
  if (!signingDate) throw new S3Refusal(400, 'InvalidArgument', 'X-Amz-Date must be in ISO8601 long format');
  const expected = await credential.signer.sign(policy, { signingDate, signingRegion: credential.region });
  if (!sameSignature(expected, signature)) throw signatureMismatch();

  let document: { expiration?: unknown; conditions?: unknown };
  try {
    document = JSON.parse(Buffer.from(policy, 'base64').toString('utf8'));
  } catch {
    throw invalidPolicy('Invalid JSON.');
  }
  const expiration = typeof document.expiration === 'string' ? Date.parse(document.expiration) : Number.NaN;
  if (Number.isNaN(expiration)) throw invalidPolicy('Policy missing expiration.');
  if (now > expiration) throw accessDenied('Invalid according to Policy: Policy expired.');
  if (!Array.isArray(document.conditions)) throw invalidPolicy('Policy missing conditions.');

  const value = (name: string) => (name === 'bucket' ? bucket : (fields[name] ?? ''));
  const named = new Set<string>();
  let range: SizeRange | undefined;
  for (const condition of document.conditions as unknown[]) {
    if (Array.isArray(condition) && condition[0] === 'content-length-range') {
      const [, min, max] = condition;
      if (typeof min !== 'number' || typeof max !== 'number')
        throw invalidPolicy('Invalid content-length-range.');
      range = { min, max };
    } else if (Array.isArray(condition) && condition.length === 3) {
      const [op, ref, expected] = condition;
      if (typeof ref !== 'string' || !ref.startsWith('$') || typeof expected !== 'string')
        throw invalidPolicy(`Invalid condition ${JSON.stringify(condition)}.`);
      const name = ref.slice(1).toLowerCase();
      named.add(name);
      const actual = value(name);
      const holds =
        op === 'eq'
          ? actual === expected
          : op === 'starts-with'
            ? // For Content-Type, S3 checks each of a comma-separated list.
              (name === 'content-type' ? actual.split(',') : [actual]).every((v) =>
                v.trim().startsWith(expected),
              )
            : undefined;
      if (holds === undefined) throw invalidPolicy(`Unknown operator ${JSON.stringify(op)}.`);
      if (!holds) throw policyFailed(condition);
    } else if (condition && typeof condition === 'object' && !Array.isArray(condition)) {
      for (const [key, expected] of Object.entries(condition)) {
        named.add(key.toLowerCase());
        if (value(key.toLowerCase()) !== expected) throw policyFailed(['eq', `$${key}`, expected]);
      }
    } else {
      throw invalidPolicy(`Invalid condition ${JSON.stringify(condition)}.`);
    }
  }
  const extra = Object.keys(fields).filter(
    (name) => !EXEMPT.has(name) && !name.startsWith('x-ignore-') && !named.has(name),
  );
  if (extra.length)
    throw accessDenied(`Invalid according to Policy: Extra input fields: ${extra.join(', ')}`);
  return range ?? { min: 0, max: MAX_POST_BYTES };
}
