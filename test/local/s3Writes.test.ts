/**
 * The local S3 shows an object whole, as S3 does: a GET while the same key is written again (a batch's
 * summary.json, which a second finisher writes with the same bytes) returns the object whole, never a short read
 * or a 500 (packages/local/src/s3rverWrites.ts). s3rver alone writes in place and fails this.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import { type LocalStack, startLocalStack } from '@obelm/local';
import { afterAll, beforeAll, expect, test } from 'vitest';

let stack: LocalStack;
let dataDir: string;

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'obelm-s3writes-'));
  stack = await startLocalStack({ dataDir, port: 0, worker: false, sweepEverySeconds: 0 });
});
afterAll(async () => {
  await stack?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

test('GETs while the same object is written again read it whole, and a listing shows only the object', async () => {
  const bucket = stack.env['OBELM_BUCKET']!;
  const key = 'batch-out/dev/bat_1/summary.json';
  const body = Buffer.alloc(4 << 20, 'summary ');
  const s3 = stack.deps.s3;
  const put = () => s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
  // A read cut short can also hang (fewer bytes than its Content-Length): each gives up after 5 s.
  const get = async () => {
    const signal = AbortSignal.timeout(5000);
    const res = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }), { abortSignal: signal });
    return Buffer.from(await res.Body!.transformToByteArray());
  };
  await put();
  // Readers back to back for as long as the writer writes: some of their reads fall inside a write.
  let writing = true;
  const reader = async () => {
    const wrong: string[] = [];
    while (writing) {
      const read = await get().catch((error: Error) => error.name);
      if (typeof read === 'string') wrong.push(read);
      else if (!read.equals(body)) wrong.push(`${read.length} bytes`);
    }
    return wrong;
  };
  const readers = [reader(), reader()];
  for (let n = 0; n < 15; n++) await put();
  writing = false;
  expect((await Promise.all(readers)).flat(), 'reads cut short or failed').toEqual([]);
  const listed = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'batch-out/' }));
  expect(listed.Contents?.map((o) => [o.Key, o.Size])).toEqual([[key, body.length]]);
}, 60_000);
