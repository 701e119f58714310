import { createHash, randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { hashingStream } from '../hashingStream.ts';
import { S3Refusal } from './errors.ts';

/**
 * A request body received in full and checked against its signed hash, until forwarded: in memory when small (a
 * job's image, noise file or report), else in a file, so memory stays bounded however large the upload.
 */
export type SpooledBody = { bytes: Buffer } | { path: string; size: number };

/** Bodies up to this size are held in memory: no temporary file to write, read back and remove. */
export const IN_MEMORY_BODY_BYTES = 1 << 20;

const EMPTY_SHA256 = createHash('sha256').digest('hex');

const mismatch = () =>
  new S3Refusal(
    400,
    'XAmzContentSHA256Mismatch',
    "The provided 'x-amz-content-sha256' header does not match what was computed.",
  );

/**
 * For a header-signed request whose x-amz-content-sha256 is a hex digest (the SDK's choice for in-memory bodies),
 * S3 stores nothing unless the body has that digest. s3rver writes straight to the object's file, so the body is
 * received first (in memory up to IN_MEMORY_BODY_BYTES, else into `dir`) and forwarded only once it matches: memory
 * stays bounded and a mismatched or cut-off upload never replaces an object. Returns undefined for a request
 * without a body.
 */
export async function spoolSignedPayload(
  req: IncomingMessage,
  expected: string,
  dir: string,
): Promise<SpooledBody | undefined> {
  const hasBody =
    Number(req.headers['content-length'] ?? 0) > 0 || req.headers['transfer-encoding'] !== undefined;
  if (!hasBody) {
    if (expected !== EMPTY_SHA256) throw mismatch();
    return undefined;
  }
  const length = Number(req.headers['content-length']);
  if (Number.isInteger(length) && length <= IN_MEMORY_BODY_BYTES) {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const bytes = Buffer.concat(chunks);
    if (createHash('sha256').update(bytes).digest('hex') !== expected) throw mismatch();
    return { bytes };
  }
  const path = join(dir, randomUUID());
  const hashing = hashingStream('sha256');
  try {
    await pipeline(req, hashing.stream, createWriteStream(path));
    if (hashing.digest() !== expected) throw mismatch();
  } catch (err) {
    await rm(path, { force: true });
    throw err;
  }
  return { path, size: hashing.size() };
}
