import { createHash } from 'node:crypto';
import { IdSchema, S3_PREFIXES, s3Keys } from '@obelm/core';

/**
 * The S3 event notifications the batch queue carries (one SQS message each, S3's own format, the same locally:
 * packages/local/src/s3Events.ts), reduced to the objects created under a batch's prefix.
 */

/** One object version an ObjectCreated record announces. */
export interface CreatedObject {
  bucket: string;
  /** The key, decoded. */
  key: string;
  /** What tells this version of the key from another: see `versionOf`. */
  version: string;
  versionId?: string;
}

/** Where a batch object belongs: `batch/{tenant}/{batchId}/{name}` (core `s3Keys.batchPrefix`). */
export interface BatchObject {
  tenant: string;
  batchId: string;
  /** The key below the batch's prefix (may hold `/`): the name its noise is written under. */
  name: string;
}

interface S3Record {
  eventName?: string;
  s3?: {
    bucket?: { name?: string };
    object?: { key?: string; versionId?: string; eTag?: string; sequencer?: string };
  };
}

/** A record that cannot name an object (a bad key encoding, a field missing): logged and dropped. */
export class UnusableRecord extends Error {
  override readonly name = 'UnusableRecord';
}

/**
 * The objects an SQS message body announces. S3's test event (`s3:TestEvent`, sent when the notification is set
 * up) and other event types announce none. Throws UnusableRecord for a body that is not an S3 notification.
 */
export function createdObjects(body: string): CreatedObject[] {
  let parsed: { Records?: S3Record[]; Event?: string };
  try {
    parsed = JSON.parse(body);
  } catch {
    throw new UnusableRecord('the message body is not JSON');
  }
  if (parsed?.Event === 's3:TestEvent') return [];
  if (!Array.isArray(parsed?.Records)) throw new UnusableRecord('the message body is not an S3 event');
  return parsed.Records.filter((r) => r.eventName?.startsWith('ObjectCreated:')).map(createdObject);
}

function createdObject(record: S3Record): CreatedObject {
  const bucket = record.s3?.bucket?.name;
  const object = record.s3?.object;
  if (!bucket || !object?.key) throw new UnusableRecord('an ObjectCreated record without bucket or key');
  const version = versionOf(object);
  if (!version) throw new UnusableRecord(`no eTag, versionId or sequencer for '${object.key}'`);
  return {
    bucket,
    key: decodeEventKey(object.key),
    version,
    ...(object.versionId ? { versionId: object.versionId } : {}),
  };
}

/**
 * Which version of the key a record announces. A versioned bucket names it (versionId). Without versioning (the
 * stage's bucket, and s3rver) the content does: the ETag, so the same bytes uploaded again are the same version
 * and run once, while different bytes under the same key are a new one. S3 may deliver a record twice; both
 * carry the same values. Only a copy record without an ETag (s3rver's) falls back to its sequencer.
 */
const versionOf = (o: { versionId?: string; eTag?: string; sequencer?: string }): string | undefined =>
  o.versionId ? `v:${o.versionId}` : o.eTag ? `e:${o.eTag}` : o.sequencer ? `s:${o.sequencer}` : undefined;

/** S3 event keys are URL-encoded with `+` for a space (a literal `+` arrives as %2B). */
export function decodeEventKey(key: string): string {
  try {
    return decodeURIComponent(key.replace(/\+/g, ' '));
  } catch {
    throw new UnusableRecord(`the key '${key}' is not URL-encoded`);
  }
}

/** The batch a key is under, or undefined for any other key (not `batch/{tenant}/{batchId}/{name}`). */
export function batchObjectOf(key: string): BatchObject | undefined {
  if (!key.startsWith(S3_PREFIXES.batch)) return undefined;
  const [tenant = '', batchId = '', ...rest] = key.slice(S3_PREFIXES.batch.length).split('/');
  const name = rest.join('/');
  // A folder marker (`.../`) or an empty name is no image; tenant and batch are ids like every other.
  if (!name || name.endsWith('/')) return undefined;
  if (!IdSchema.safeParse(tenant).success || !IdSchema.safeParse(batchId).success) return undefined;
  // The format is core's: the key must be exactly the batch's prefix and the name.
  return s3Keys.batchPrefix(tenant, batchId) + name === key ? { tenant, batchId, name } : undefined;
}

const BASE32 = '0123456789abcdefghjkmnpqrstvwxyz'; // Crockford, lower case, as core's ids

/**
 * The job of one object version: derived from the bucket, key and version, so every event of that version
 * names the same job and its conditional put makes exactly one (130 bits of SHA-256: no two versions meet).
 */
export function batchJobId(object: Pick<CreatedObject, 'bucket' | 'key' | 'version'>): string {
  const digest = createHash('sha256').update(`${object.bucket}\n${object.key}\n${object.version}`).digest();
  let id = '';
  for (let i = 0; i < 26; i++) {
    // 5 bits at a time, big-endian across the digest.
    const bit = i * 5;
    const word = (digest[bit >> 3]! << 8) | digest[(bit >> 3) + 1]!;
    id += BASE32[(word >> (11 - (bit & 7))) & 31];
  }
  return `job_b${id}`;
}
