import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { createPresignedPost } from '@aws-sdk/s3-presigned-post';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { BUCKET_CORS } from '@obelm/core';
import { type LocalStack, startLocalStack } from '@obelm/local';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IN_MEMORY_BODY_BYTES } from '../../packages/local/src/s3auth/payload.ts';
import { call, PNG_BASE64 } from '../api/helpers.ts';

/** The local S3 (s3rver behind the signature-checking gateway) refuses what real S3 refuses. */
let stack: LocalStack;
let dataDir: string;
let bucket: string;
const PNG = Buffer.from(PNG_BASE64, 'base64');
const OUTPUT = 'jobs/dev/job_1/image.png';
const OTHER_TENANT = 'jobs/other/job_1/image.png';

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'obelm-s3auth-'));
  stack = await startLocalStack({ dataDir, port: 0 });
  bucket = stack.env['OBELM_BUCKET']!;
  for (const key of [OUTPUT, OTHER_TENANT])
    await stack.deps.s3.send(
      new PutObjectCommand({ Bucket: bucket, Key: key, Body: PNG, ContentType: 'image/png' }),
    );
});
afterAll(async () => {
  await stack?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

/** A presigned GET, as the API hands out for a job's outputs (jobs/view.ts). */
const presignGet = (key: string, options: { expiresIn?: number; signingDate?: Date } = {}) =>
  getSignedUrl(stack.deps.s3, new GetObjectCommand({ Bucket: bucket, Key: key }), {
    expiresIn: 3600,
    ...options,
  });

/** The S3 error code of a refused answer. */
async function refusal(res: Response): Promise<{ status: number; code: string; message: string }> {
  const text = await res.text();
  return {
    status: res.status,
    code: text.match(/<Code>([^<]+)<\/Code>/)?.[1] ?? '',
    message: text.match(/<Message>([^<]+)<\/Message>/)?.[1] ?? '',
  };
}

/** Runs `use` with an S3 client of the stack's endpoint signing with the given key pair. */
async function withS3(
  accessKeyId: string,
  secretAccessKey: string,
  use: (client: S3Client) => Promise<void>,
): Promise<void> {
  const client = new S3Client({
    region: stack.env['AWS_REGION']!,
    endpoint: stack.env['AWS_ENDPOINT_URL_S3']!,
    forcePathStyle: true,
    credentials: { accessKeyId, secretAccessKey },
    maxAttempts: 1,
  });
  try {
    await use(client);
  } finally {
    client.destroy();
  }
}

/** The finished job's output still holds what was stored first. */
async function expectOutputIntact(): Promise<void> {
  const res = await fetch(await presignGet(OUTPUT));
  expect(Buffer.from(await res.arrayBuffer()).equals(PNG)).toBe(true);
}

describe('presigned URLs', () => {
  it('serves a valid presigned GET', async () => {
    const res = await fetch(await presignGet(OUTPUT));
    expect(res.status).toBe(200);
    expect(Buffer.from(await res.arrayBuffer()).equals(PNG)).toBe(true);
  });

  it('refuses a URL whose key, tenant or expiry was changed', async () => {
    const url = await presignGet(OUTPUT);
    const tampered = [
      url.replace('image.png', 'noise.safetensors'),
      url.replace('/jobs/dev/', '/jobs/other/'),
      url.replace('X-Amz-Expires=3600', 'X-Amz-Expires=7200'),
      url.replace(/X-Amz-Signature=[0-9a-f]{4}/, 'X-Amz-Signature=0000'),
    ];
    for (const link of tampered) {
      expect(link).not.toBe(url);
      expect(await refusal(await fetch(link)), link).toMatchObject({
        status: 403,
        code: 'SignatureDoesNotMatch',
      });
    }
  });

  it('refuses an expired URL', async () => {
    const url = await presignGet(OUTPUT, { expiresIn: 60, signingDate: new Date(Date.now() - 120_000) });
    expect(await refusal(await fetch(url))).toEqual({
      status: 403,
      code: 'AccessDenied',
      message: 'Request has expired',
    });
  });

  it("does not let a finished job's GET link overwrite the output", async () => {
    const url = await presignGet(OUTPUT);
    const put = await fetch(url, { method: 'PUT', body: 'overwritten' });
    expect(await refusal(put)).toMatchObject({ status: 403, code: 'SignatureDoesNotMatch' });
    const del = await fetch(url, { method: 'DELETE' });
    expect(del.status).toBe(403);
    await expectOutputIntact();
  });
});

describe('requests without a valid signature', () => {
  it('refuses anonymous reads, listings and writes', async () => {
    const endpoint = stack.env['AWS_ENDPOINT_URL_S3']!;
    for (const [method, path] of [
      ['GET', `/${bucket}/${OUTPUT}`],
      ['GET', `/${bucket}?list-type=2`],
      ['GET', '/'],
      ['PUT', `/${bucket}/${OUTPUT}`],
    ] as const) {
      const res = await fetch(`${endpoint}${path}`, { method, ...(method === 'PUT' ? { body: 'x' } : {}) });
      expect(await refusal(res), `${method} ${path}`).toMatchObject({ status: 403, code: 'AccessDenied' });
    }
  });

  it('refuses a header-signed PutObject with a wrong secret or an unknown key id', async () => {
    const put = new PutObjectCommand({ Bucket: bucket, Key: OUTPUT, Body: 'overwritten' });
    for (const [accessKeyId, secret, name] of [
      ['S3RVER', 'not-the-secret', 'SignatureDoesNotMatch'],
      ['NOSUCHKEY', 'S3RVER', 'InvalidAccessKeyId'],
    ] as const)
      await withS3(accessKeyId, secret, (client) =>
        expect(client.send(put)).rejects.toMatchObject({ name, $metadata: { httpStatusCode: 403 } }),
      );
    await expectOutputIntact();
  });

  // Both ways a signed body waits for its check: in memory (small) and in a spool file (large).
  it.each([
    ['held in memory', 16],
    ['spooled to a file', IN_MEMORY_BODY_BYTES + 1],
  ])(
    'refuses a signed PutObject whose body was changed after signing (%s), and keeps the object',
    async (_, size) => {
      await withS3('S3RVER', 'S3RVER', async (client) => {
        // Last in the finalize step: after the SDK signed the request, before it is sent.
        client.middlewareStack.add(
          (next) => async (args) => {
            (args.request as { body: unknown }).body = Buffer.alloc(size, 'o');
            return next(args);
          },
          { step: 'finalizeRequest', priority: 'low' },
        );
        await expect(
          client.send(new PutObjectCommand({ Bucket: bucket, Key: OUTPUT, Body: Buffer.alloc(size, 's') })),
        ).rejects.toMatchObject({ name: 'XAmzContentSHA256Mismatch', $metadata: { httpStatusCode: 400 } });
      });
      await expectOutputIntact();
    },
  );

  it.each([
    ['held in memory', 16],
    ['spooled to a file', IN_MEMORY_BODY_BYTES + 1],
  ])('stores a signed PutObject whose body is intact (%s), byte for byte', async (_, size) => {
    const body = Buffer.alloc(size);
    for (let i = 0; i < size; i++) body[i] = (i * 31) % 251;
    const key = `jobs/dev/job_1/intact-${size}.bin`;
    await withS3('S3RVER', 'S3RVER', async (client) => {
      await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
    });
    const res = await fetch(await presignGet(key));
    expect(Buffer.from(await res.arrayBuffer()).equals(body)).toBe(true);
  });

  it('refuses an x-amz-* header added after signing (S3 requires them signed)', async () => {
    // A PUT turned into a copy of another tenant's object by a header the signature does not cover.
    const copySource = { 'x-amz-copy-source': `${bucket}/${OTHER_TENANT}` };
    await withS3('S3RVER', 'S3RVER', async (client) => {
      client.middlewareStack.add(
        (next) => async (args) => {
          Object.assign((args.request as { headers: Record<string, string> }).headers, copySource);
          return next(args);
        },
        { step: 'finalizeRequest', priority: 'low' },
      );
      await expect(
        client.send(new PutObjectCommand({ Bucket: bucket, Key: OUTPUT, Body: Buffer.alloc(0) })),
      ).rejects.toMatchObject({ name: 'AccessDenied', $metadata: { httpStatusCode: 403 } });
    });
    const url = await getSignedUrl(stack.deps.s3, new PutObjectCommand({ Bucket: bucket, Key: OUTPUT }), {
      expiresIn: 60,
    });
    const put = await fetch(url, { method: 'PUT', headers: copySource });
    expect(await refusal(put)).toMatchObject({ status: 403, code: 'AccessDenied' });
    await expectOutputIntact();
  });

  it('serves SDK requests for keys with spaces, unicode, + and %, ranges, heads, listings and batch deletes', async () => {
    const keys = ['uploads/odd/a b+c%d.png', 'uploads/odd/ünï/çødé ✓.png', 'uploads/odd/x%2Fy=z&w?.png'];
    await withS3('S3RVER', 'S3RVER', async (client) => {
      for (const key of keys) {
        await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: PNG }));
        const head = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
        expect(head.ContentLength, key).toBe(PNG.length);
        const range = await client.send(
          new GetObjectCommand({ Bucket: bucket, Key: key, Range: 'bytes=1-3' }),
        );
        expect(Buffer.from(await range.Body!.transformToByteArray()).equals(PNG.subarray(1, 4)), key).toBe(
          true,
        );
        const res = await fetch(await presignGet(key));
        expect(Buffer.from(await res.arrayBuffer()).equals(PNG), key).toBe(true);
      }
      const listed = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'uploads/odd/' }));
      expect(listed.Contents?.map((o) => o.Key).sort()).toEqual([...keys].sort());
      // One key a call: s3rver deletes a batch in parallel and races itself removing the emptied folders.
      for (const Key of keys) {
        const deleted = await client.send(
          new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: [{ Key }] } }),
        );
        expect(deleted.Deleted, Key).toHaveLength(1);
      }
    });
  });

  it('answers malformed credentials with S3 errors, not a crash', async () => {
    const endpoint = stack.env['AWS_ENDPOINT_URL_S3']!;
    for (const authorization of ['AWS4-HMAC-SHA256 garbage', 'AWS4-HMAC-SHA256 Credential=S3RVER']) {
      const res = await fetch(`${endpoint}/${bucket}/${OUTPUT}`, { headers: { authorization } });
      expect(await refusal(res)).toMatchObject({ status: 400, code: 'AuthorizationHeaderMalformed' });
    }
    const form = new FormData();
    form.append('key', 'x');
    form.append('file', new Blob([PNG]), 'in.png');
    const res = await fetch(`${endpoint}/%E0%A4%A`, { method: 'POST', body: form });
    expect((await refusal(res)).status).toBeLessThan(500);
  });

  it('accepts header-signed requests from the right account', async () => {
    await withS3('S3RVER', 'S3RVER', async (client) => {
      const got = await client.send(new GetObjectCommand({ Bucket: bucket, Key: OUTPUT }));
      expect(Buffer.from(await got.Body!.transformToByteArray()).equals(PNG)).toBe(true);
    });
  });
});

describe('presigned POST uploads', () => {
  /** The API's upload form (handlers/createUpload.ts), filled with `file` after applying `edit` to its fields. */
  async function postUpload(
    file: Blob,
    edit: (fields: Record<string, string>) => void = () => {},
  ): Promise<{ res: Response; key: string; maxBytes: number }> {
    const upload = await call(stack, 'POST', '/v1/uploads', { body: { contentType: 'image/png' } });
    expect(upload.status).toBe(201);
    const fields = { ...(upload.body.fields as Record<string, string>) };
    const key = fields['key']!;
    edit(fields);
    return { res: await postForm(upload.body.url, fields, file), key, maxBytes: upload.body.maxBytes };
  }
  async function postForm(url: string, fields: Record<string, string>, file: Blob): Promise<Response> {
    const form = new FormData();
    for (const [name, value] of Object.entries(fields)) form.append(name, value);
    form.append('file', file, 'in.png');
    return fetch(url, { method: 'POST', body: form });
  }
  const objectStatus = async (key: string) => (await fetch(await presignGet(key))).status;

  it('stores a valid upload', async () => {
    const { res, key } = await postUpload(new Blob([PNG], { type: 'image/png' }));
    expect(res.status).toBe(204);
    expect(await objectStatus(key)).toBe(200);
  });

  it('refuses a file over the size limit', async () => {
    const upload = await call(stack, 'POST', '/v1/uploads', { body: { contentType: 'image/png' } });
    const maxBytes = upload.body.maxBytes as number;
    const res = await postForm(upload.body.url, upload.body.fields, new Blob([Buffer.alloc(maxBytes + 1)]));
    expect(await refusal(res)).toMatchObject({ status: 400, code: 'EntityTooLarge' });
    expect(await objectStatus(upload.body.fields.key)).toBe(404);
  });

  it('refuses a body far over the limit before reading it all, and answers', async () => {
    const key = 'uploads/dev/small';
    const { url, fields } = await createPresignedPost(stack.deps.s3, {
      Bucket: bucket,
      Key: key,
      Conditions: [['content-length-range', 1, 100]],
    });
    const res = await postForm(url, fields, new Blob([Buffer.alloc(1024 * 1024)]));
    expect(await refusal(res)).toMatchObject({ status: 400, code: 'EntityTooLarge' });
    const empty = await postForm(url, fields, new Blob([]));
    expect(await refusal(empty)).toMatchObject({ status: 400, code: 'EntityTooSmall' });
    expect(await objectStatus(key)).toBe(404);
  });

  it('refuses a form whose Content-Type, key or policy differs from what was signed', async () => {
    const png = new Blob([PNG], { type: 'image/png' });
    const wrongType = await postUpload(png, (f) => {
      f['Content-Type'] = 'text/html';
    });
    expect(await refusal(wrongType.res)).toMatchObject({ status: 403, code: 'AccessDenied' });
    expect(await objectStatus(wrongType.key)).toBe(404);

    const otherKey = await postUpload(png, (f) => {
      f['key'] = OUTPUT;
    });
    expect(await refusal(otherKey.res)).toMatchObject({ status: 403, code: 'AccessDenied' });

    const widened = await postUpload(png, (f) => {
      const policy = JSON.parse(Buffer.from(f['Policy']!, 'base64').toString());
      policy.conditions = policy.conditions.filter((c: unknown) => !Array.isArray(c) || c[0] !== 'eq');
      f['Policy'] = Buffer.from(JSON.stringify(policy)).toString('base64');
      f['Content-Type'] = 'text/html';
    });
    expect(await refusal(widened.res)).toMatchObject({ status: 403, code: 'SignatureDoesNotMatch' });

    const extraField = await postUpload(png, (f) => {
      f['acl'] = 'public-read';
    });
    expect(await refusal(extraField.res)).toMatchObject({ status: 403, code: 'AccessDenied' });
    expect(await objectStatus(extraField.key)).toBe(404);
    // The output another upload tried to overwrite is intact.
    await expectOutputIntact();
  });

  it('stores only what the policy checked: no second key, Content-Type or file later in the form', async () => {
    const upload = await call(stack, 'POST', '/v1/uploads', { body: { contentType: 'image/png' } });
    const fields = upload.body.fields as Record<string, string>;
    const build = (tail: (form: FormData) => void) => {
      const form = new FormData();
      for (const [name, value] of Object.entries(fields)) form.append(name, value);
      tail(form);
      return form;
    };
    const forms = [
      // A repeated field: the policy sees the first, a server keeping the last would store elsewhere.
      build((f) => {
        f.append('key', OUTPUT);
        f.append('Content-Type', 'text/html');
        f.append('file', new Blob(['<script>']), 'in.png');
      }),
      // A part named like the file but not `file`, then fields and the real file after it.
      build((f) => {
        f.append('File', new Blob([PNG]), 'in.png');
        f.append('key', OUTPUT);
        f.append('file', new Blob(['overwritten']), 'in.png');
      }),
    ];
    for (const form of forms) {
      // Stored under the checked key with the checked Content-Type.
      expect((await fetch(upload.body.url, { method: 'POST', body: form })).status).toBe(204);
      const stored = await fetch(await presignGet(fields['key']!));
      expect(stored.headers.get('content-type')).toBe('image/png');
    }
    await expectOutputIntact();
  });

  it('refuses an expired policy', async () => {
    const { url, fields } = await createPresignedPost(stack.deps.s3, {
      Bucket: bucket,
      Key: 'uploads/dev/late',
      Expires: -60,
    });
    const res = await postForm(url, fields, new Blob([PNG]));
    expect(await refusal(res)).toEqual({
      status: 403,
      code: 'AccessDenied',
      message: 'Invalid according to Policy: Policy expired.',
    });
  });
});

/** The stand-in answers CORS as the cloud bucket's rule (core BUCKET_CORS), for the origins of the local API. */
describe('CORS', () => {
  const png = () => new Blob([PNG], { type: 'image/png' });
  const bucketUrl = () => `${stack.env['AWS_ENDPOINT_URL_S3']}/${bucket}`;
  const preflight = (origin: string | undefined, method: string, headers = 'content-type') =>
    fetch(bucketUrl(), {
      method: 'OPTIONS',
      headers: {
        ...(origin ? { origin } : {}),
        'access-control-request-method': method,
        'access-control-request-headers': headers,
      },
    });
  /** A browser upload as the playground sends it: the API's presigned POST form, from `origin`. */
  async function upload(origin: string): Promise<Response> {
    const created = await call(stack, 'POST', '/v1/uploads', { body: { contentType: 'image/png' } });
    const form = new FormData();
    for (const [name, value] of Object.entries(created.body.fields as Record<string, string>))
      form.append(name, value);
    form.append('file', png(), 'in.png');
    return fetch(created.body.url, { method: 'POST', body: form, headers: { origin } });
  }

  it("answers a preflight from the API's origin with the rule's methods, headers and max age", async () => {
    const origin = new URL(stack.apiUrl).origin;
    for (const from of [origin, origin.replace('127.0.0.1', 'localhost')]) {
      const res = await preflight(from, 'POST', 'content-type,x-custom');
      expect(res.status, from).toBe(200);
      expect(res.headers.get('access-control-allow-origin')).toBe(from);
      expect(res.headers.get('access-control-allow-methods')).toBe(BUCKET_CORS.allowedMethods.join(', '));
      expect(res.headers.get('access-control-allow-headers')).toBe('content-type, x-custom');
      expect(res.headers.get('access-control-max-age')).toBe(String(BUCKET_CORS.maxAgeSeconds));
    }
    // DELETE is not in the rule: a page may not delete objects.
    expect((await preflight(origin, 'DELETE')).status).toBe(403);
    expect(await refusal(await preflight(undefined, 'POST'))).toMatchObject({
      status: 400,
      code: 'BadRequest',
    });
  });

  it("lets the API's origin read the answers of a presigned POST upload, a refusal and a presigned GET", async () => {
    const origin = new URL(stack.apiUrl).origin;
    const res = await upload(origin);
    expect(res.status).toBe(204);
    expect(res.headers.get('access-control-allow-origin')).toBe(origin);
    expect(res.headers.get('access-control-expose-headers')).toBe('ETag');

    // An upload without the form's signature is refused, and the page can read why.
    const unsigned = await fetch(bucketUrl(), { method: 'POST', headers: { origin } });
    expect(await refusal(unsigned)).toMatchObject({ status: 403, code: 'AccessDenied' });
    expect(unsigned.headers.get('access-control-allow-origin')).toBe(origin);

    const get = await fetch(await presignGet(OUTPUT), { headers: { origin } });
    expect(get.status).toBe(200);
    expect(get.headers.get('access-control-allow-origin')).toBe(origin);
  });

  it('gives another origin no CORS headers: its preflight is refused, its upload answered without them', async () => {
    const other = 'http://127.0.0.1:1';
    const pre = await preflight(other, 'POST');
    expect(pre.headers.get('access-control-allow-origin')).toBeNull();
    expect(await refusal(pre)).toMatchObject({ status: 403, code: 'AccessForbidden' });
    // S3 serves the request itself (the browser is what withholds the answer from the page).
    const res = await upload(other);
    expect(res.status).toBe(204);
    expect([...res.headers.keys()].filter((name) => name.startsWith('access-control-'))).toEqual([]);
  });
});
