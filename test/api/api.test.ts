import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { HANDLER_FACTORIES, type HttpEvent } from '@obelm/api';
import {
  dbKeys,
  type JobItem,
  JobListSchema,
  JobMessageSchema,
  JobViewSchema,
  ROUTE_SPECS,
} from '@obelm/core';
import { type LocalStack, startLocalStack } from '@obelm/local';
import type { Context } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { addApiKey, call, PNG_BASE64 } from './helpers.ts';

let stack: LocalStack;
let dataDir: string;

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'obelm-api-'));
  // Jobs here are never run (no worker): dispatch slots and limits wide enough that each one is sent at once.
  stack = await startLocalStack({
    dataDir,
    port: 0,
    worker: false,
    serviceEnv: {
      OBELM_TENANT_LIMITS: JSON.stringify({
        requestsPerSecond: 1000,
        maxActiveJobs: 10_000,
        parallelJobs: 10_000,
      }),
    },
  });
});
afterAll(async () => {
  await stack?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

const createJob = (body: unknown, headers: Record<string, string> = {}) =>
  call(stack, 'POST', '/v1/jobs', { body, headers });

/** Moves a job to a state only a worker would reach (the worker is off in these tests). */
async function setJob(jobId: string, fields: Partial<JobItem>): Promise<void> {
  const names = Object.keys(fields);
  await stack.deps.db.send(
    new UpdateCommand({
      TableName: stack.env['OBELM_TABLE'],
      Key: dbKeys.job(jobId),
      UpdateExpression: `SET ${names.map((n) => `#${n} = :${n}`).join(', ')}`,
      ExpressionAttributeNames: Object.fromEntries(names.map((n) => [`#${n}`, n])),
      ExpressionAttributeValues: Object.fromEntries(Object.entries(fields).map(([n, v]) => [`:${n}`, v])),
    }),
  );
}

/** A succeeded job with a noise artifact, as a worker would leave it. */
async function succeededWithNoise(body: Record<string, unknown>): Promise<string> {
  const created = await createJob(body);
  expect(created.status).toBe(202);
  const id: string = created.body.id;
  await setJob(id, { status: 'succeeded', outputs: { noise: `jobs/dev/${id}/noise.safetensors` } });
  return id;
}

/** A succeeded invert job with a noise artifact. */
const succeededInversion = (extra: Record<string, unknown> = {}) =>
  succeededWithNoise({ kind: 'invert', image: { base64: PNG_BASE64 }, ...extra });

describe('auth', () => {
  it('rejects a missing or unknown key with 401 unauthorized', async () => {
    for (const key of [null, 'not-a-real-key-0123456789']) {
      const res = await call(stack, 'GET', '/v1/jobs', { key });
      expect(res.status).toBe(401);
      expect(res.body.error.code).toBe('unauthorized');
      expect(res.headers.get('x-request-id')).toBeTruthy();
    }
  });

  it('serves the OpenAPI document without a key', async () => {
    const res = await call(stack, 'GET', '/v1/openapi.json', { key: null });
    expect(res.status).toBe(200);
  });
});

describe('OpenAPI document', () => {
  it('lists every route, the bearer scheme and the error shape', async () => {
    const { body: doc } = await call(stack, 'GET', '/v1/openapi.json', { key: null });
    expect(doc.openapi).toBe('3.1.0');
    for (const route of ROUTE_SPECS) {
      const op = doc.paths[route.path]?.[route.method.toLowerCase()];
      expect(op, `${route.method} ${route.path}`).toBeDefined();
      expect(op.responses[String(route.status)]).toBeDefined();
    }
    const getJob = doc.paths['/v1/jobs/{id}'].get;
    expect(getJob.parameters.map((p: { name: string }) => p.name)).toContain('wait');
    expect(Object.keys(doc.paths).sort()).toEqual(
      [
        '/v1/jobs',
        '/v1/jobs/{id}',
        '/v1/jobs/{id}/cancel',
        '/v1/models',
        '/v1/openapi.json',
        '/v1/uploads',
        '/v1/usage',
        '/v1/jobs/{id}/webhook/redeliver',
        '/v1/webhooks/secret',
        '/v1/webhooks/secret/rotate',
        '/v1/batches',
        '/v1/batches/{id}',
        '/v1/batches/{id}/close',
      ].sort(),
    );
    expect(doc.components.securitySchemes.apiKey).toMatchObject({ type: 'http', scheme: 'bearer' });
    expect(doc.components.schemas.Error.properties.error.required).toEqual(['code', 'message', 'details']);
    expect(doc.paths['/v1/openapi.json'].get.security).toEqual([]);
    // The request schema is the validating zod schema: one variant per job kind.
    const create = doc.paths['/v1/jobs'].post.requestBody.content['application/json'].schema;
    expect(create.oneOf ?? create.anyOf).toHaveLength(5);
  });
});

/** Fails with zod's issue list (path and message) when `value` does not match `schema` exactly. */
function expectConforms(schema: z.ZodType, value: unknown): void {
  expect(schema.safeParse(value).error?.issues).toBeUndefined();
}

describe('job view contract', () => {
  // The response schemas are strict down to every nested object: an unknown field or a missing required one
  // fails here, so the schema (OpenAPI document) and the handler (toJobView) cannot drift apart.
  it('every job view the API returns matches JobViewSchema exactly', async () => {
    const requests = [
      { kind: 'invert', image: { base64: PNG_BASE64 }, prompt: 'a square', metadata: { order: '17' } },
      { kind: 'sample', seed: 3, sampler: { name: 'bdia' }, output: { format: 'webp' } },
      { kind: 'edit', image: { base64: PNG_BASE64 }, targetPrompt: 'a blue square', strength: 0.4 },
      { kind: 'reconstruct', image: { base64: PNG_BASE64 }, sampler: { name: 'edict' } },
      { kind: 'interpolate', images: [{ base64: PNG_BASE64 }, { base64: PNG_BASE64 }], negativePrompt: 'x' },
    ];
    for (const request of requests) {
      const created = await createJob(request);
      expect(created.status, request.kind).toBe(202);
      expectConforms(JobViewSchema, created.body);
    }

    // Every optional field filled in, as a worker and a cancel would leave them.
    const { body: job } = await createJob({ kind: 'sample', seed: 5, metadata: { a: 'b' } });
    const prefix = `jobs/dev/${job.id}`;
    await setJob(job.id, {
      status: 'failed',
      progress: { step: 3, of: 20 },
      outputs: {
        image: `${prefix}/image.png`,
        images: [`${prefix}/0.png`, `${prefix}/1.png`],
        noise: `${prefix}/noise.safetensors`,
        report: `${prefix}/report.json`,
        errorMap: `${prefix}/error-map.png`,
      },
      metrics: { queueMs: 1, runMs: 2, gpuMs: 3, latentMaxAbsError: 1e-12, pixelMse: 0.5 },
      error: { code: 'model_error', message: 'boom' },
      cancelRequested: true,
      startedAt: new Date().toISOString(),
      finishedAt: new Date().toISOString(),
      billing: { gpuMs: 3, amountMicros: 2, currency: 'USD', month: '2026-12' },
      webhook: { url: 'http://127.0.0.1:9/hook' },
      batch: { id: 'batch_1', key: 'batch/dev/batch_1/a.png' },
    });
    const full = await call(stack, 'GET', `/v1/jobs/${job.id}`);
    // Every field but deletedAt, which replaces outputsExpireAt on a tombstone (below), and the estimates of a
    // queued or running job (packages/api/test/roundTrips.test.ts checks those against the schema).
    expect(Object.keys(full.body).sort()).toEqual(
      Object.keys(JobViewSchema.shape)
        .filter((k) => !['deletedAt', 'queue', 'estimatedFinishAt'].includes(k))
        .sort(),
    );
    expectConforms(JobViewSchema, full.body);
    expect(Object.keys(full.body.outputs).sort()).toEqual(
      Object.keys(JobViewSchema.shape.outputs.unwrap().shape).sort(),
    );
    expect(full.body.outputs.errorMap).toMatchObject({
      url: expect.stringContaining(`${prefix}/error-map.png`),
      scale: { min: 1e-16, max: 1 },
    });
    const deleted = await call(stack, 'DELETE', `/v1/jobs/${job.id}`);
    expect(deleted.status).toBe(200);
    expect(deleted.body).toMatchObject({ deletedAt: expect.any(String) });
    expect(deleted.body).not.toHaveProperty('outputsExpireAt');
    expectConforms(JobViewSchema, deleted.body);

    const list = await call(stack, 'GET', '/v1/jobs?limit=100');
    expect(list.body.jobs.length).toBeGreaterThan(requests.length);
    expectConforms(JobListSchema, list.body);

    const { body: queued } = await createJob({ kind: 'sample' });
    expectConforms(JobViewSchema, (await call(stack, 'POST', `/v1/jobs/${queued.id}/cancel`)).body);
  });

  it('the schema refuses an unknown field or a missing one at any depth', async () => {
    const { body: view } = await createJob({ kind: 'sample', seed: 1 });
    expectConforms(JobViewSchema, view);
    const { id: _id, ...withoutId } = view;
    for (const bad of [
      { ...view, tenant: 'dev' },
      { ...view, params: { ...view.params, attempts: 1 } },
      withoutId,
    ]) {
      expect(JobViewSchema.safeParse(bad).success).toBe(false);
    }
  });
});

describe('bad requests', () => {
  it.each([
    ['malformed JSON', '{"kind":', 400, 'malformed_json'],
    ['an unknown field', { kind: 'sample', colour: 'red' }, 400, 'unknown_field'],
    ['a wrong type', { kind: 'sample', steps: 'ten' }, 400, 'invalid_request'],
    ['an unknown kind', { kind: 'paint' }, 400, 'invalid_request'],
    ['steps beyond the model range', { kind: 'sample', steps: 500 }, 400, 'steps_out_of_range'],
    ['guidance beyond the model range', { kind: 'sample', guidance: 5 }, 400, 'guidance_out_of_range'],
    ['strength out of range', { kind: 'edit', targetPrompt: 'x', strength: 1.5 }, 400, 'invalid_request'],
    ['an unknown model', { kind: 'sample', model: 'nope' }, 400, 'unknown_model'],
    ['an edit without image or noise', { kind: 'edit', targetPrompt: 'a blue square' }, 400, 'missing_image'],
    ['an invert without image or noise', { kind: 'invert' }, 400, 'missing_image'],
    ['bad base64', { kind: 'invert', image: { base64: 'AAAA=AAA' } }, 400, 'invalid_image'],
    [
      'base64 that is no image',
      { kind: 'invert', image: { base64: 'aGVsbG8gd29ybGQ=' } },
      400,
      'invalid_image',
    ],
    ['an unknown upload', { kind: 'invert', image: { uploadId: 'upl_missing' } }, 404, 'unknown_upload'],
    ['an unknown noise job', { kind: 'sample', noise: { jobId: 'job_missing' } }, 404, 'unknown_noise'],
    [
      'a seed with noise',
      { kind: 'sample', seed: 3, noise: { jobId: 'job_missing' } },
      400,
      'conflicting_inputs',
    ],
    [
      'an inline image over 4 MiB, though within the body limit',
      { kind: 'invert', image: { base64: 'A'.repeat(Math.ceil((4.2 * 1024 * 1024 * 4) / 3)) } },
      413,
      'image_too_large',
    ],
  ])('%s', async (_name, body, status, code) => {
    const res = await createJob(body);
    expect(res.status).toBe(status);
    expect(res.body.error.code).toBe(code);
    expect(typeof res.body.error.message).toBe('string');
    expect(res.body.error.details, 'every error says what was wrong').toBeTypeOf('object');
  });

  it('gives every error details: the field or the values at fault', async () => {
    const seeded = await createJob({ kind: 'sample', seed: 3, noise: { jobId: 'job_missing' } });
    expect(seeded.body.error.details).toEqual({ fields: ['seed', 'noise'] });
    const large = await createJob({
      kind: 'invert',
      image: { base64: 'A'.repeat(Math.ceil((4.2 * 1024 * 1024 * 4) / 3)) },
    });
    expect(large.body.error.details).toEqual({ field: 'image', maxBytes: 4 * 1024 * 1024 });
    const missing = await call(stack, 'GET', '/v1/jobs/job_nope');
    expect(missing.body.error).toMatchObject({ code: 'job_not_found', details: { jobId: 'job_nope' } });
    const noKey = await call(stack, 'GET', '/v1/jobs', { key: null });
    expect(noKey.body.error.details).toEqual({ header: 'Authorization', reason: 'missing' });
    const badKey = await call(stack, 'GET', '/v1/jobs', { key: 'not-a-real-key-0123456789' });
    expect(badKey.body.error.details).toEqual({ header: 'Authorization', reason: 'unknown' });
    const json = await createJob('{"kind":');
    expect(json.body.error.details.reason).toEqual(expect.any(String));
    const idem = await createJob({ kind: 'sample' }, { 'idempotency-key': 'k'.repeat(300) });
    expect(idem.body.error).toMatchObject({
      code: 'invalid_idempotency_key',
      details: { header: 'Idempotency-Key' },
    });
    const upload = await createJob({ kind: 'invert', image: { uploadId: 'upl_missing' } });
    expect(upload.body.error.details).toEqual({ field: 'image', uploadId: 'upl_missing' });
    const route = await call(stack, 'GET', '/v1/nothing');
    expect(route.body.error.details).toEqual({ method: 'GET', path: '/v1/nothing' });
  });

  it('answers a path with malformed percent-encoding with 400, as API Gateway does, not 500', async () => {
    for (const path of ['/v1/jobs/%ZZ', '/v1/jobs/%E0%A4%A/cancel', '/v1/jobs/%']) {
      const method = path.endsWith('cancel') ? 'POST' : 'GET';
      const res = await call(stack, method, path);
      expect(res.status, path).toBe(400);
      expect(res.body.error).toMatchObject({ code: 'malformed_path', details: { path } });
    }
    // Well-formed escapes still reach the handler: a decoded id that is no id is an unknown job.
    const escaped = await call(stack, 'GET', '/v1/jobs/%41bc%20d');
    expect(escaped.status).toBe(404);
    expect(escaped.body.error).toMatchObject({ code: 'job_not_found', details: { jobId: 'Abc d' } });
  });

  it('names the unknown field and gives zod issue paths', async () => {
    const unknown = await createJob({ kind: 'sample', colour: 'red' });
    expect(unknown.body.error.details.field).toBe('colour');
    const wrong = await createJob({ kind: 'sample', steps: 'ten' });
    expect(wrong.body.error.details).toContainEqual(expect.objectContaining({ path: 'steps' }));
    const range = await createJob({ kind: 'sample', steps: 500 });
    expect(range.body.error.details).toMatchObject({ min: 2, max: 200 });
  });

  it('rejects an oversize body with 413', async () => {
    const res = await createJob(
      JSON.stringify({ kind: 'invert', image: { base64: 'A'.repeat(7 * 1024 * 1024) } }),
    );
    expect(res.status).toBe(413);
    expect(res.body.error.code).toBe('payload_too_large');
  });

  it('answers unknown routes with 404 and wrong methods with 405', async () => {
    const missing = await call(stack, 'GET', '/v1/nothing');
    expect(missing.status).toBe(404);
    expect(missing.body.error.code).toBe('not_found');
    const method = await call(stack, 'DELETE', '/v1/jobs');
    expect(method.status).toBe(405);
    expect(method.body.error.code).toBe('method_not_allowed');
    expect(method.headers.get('allow')).toContain('POST');
  });

  it('rejects a bad list query', async () => {
    for (const query of ['status=bogus', 'limit=0', 'limit=x', 'cursor=garbage', 'colour=red']) {
      const res = await call(stack, 'GET', `/v1/jobs?${query}`);
      expect(res.status, query).toBe(400);
    }
  });
});

describe('uploads', () => {
  it('uploads through the presigned POST form, then creates a job from the uploadId', async () => {
    const upload = await call(stack, 'POST', '/v1/uploads', { body: { contentType: 'image/png' } });
    expect(upload.status).toBe(201);
    expect(upload.body.fields['Content-Type']).toBe('image/png');
    const policy = JSON.parse(Buffer.from(upload.body.fields.Policy, 'base64').toString());
    expect(policy.conditions).toContainEqual(['content-length-range', 1, upload.body.maxBytes]);

    // Before the file arrives, a job cannot use the upload.
    const early = await createJob({ kind: 'invert', image: { uploadId: upload.body.uploadId } });
    expect(early.status).toBe(409);
    expect(early.body.error.code).toBe('upload_pending');

    const form = new FormData();
    for (const [name, value] of Object.entries(upload.body.fields as Record<string, string>))
      form.append(name, value);
    form.append('file', new Blob([Buffer.from(PNG_BASE64, 'base64')], { type: 'image/png' }), 'in.png');
    const posted = await fetch(upload.body.url, { method: 'POST', body: form });
    expect(posted.status).toBe(204);

    const job = await createJob({ kind: 'invert', image: { uploadId: upload.body.uploadId } });
    expect(job.status).toBe(202);
    expect(job.body).toMatchObject({ kind: 'invert', status: 'queued', model: 'demo' });
    const { Item } = await stack.deps.db.send(
      new GetCommand({ TableName: stack.env['OBELM_TABLE'], Key: dbKeys.job(job.body.id) }),
    );
    const item = Item as JobItem;
    expect(item.inputs).toEqual([{ type: 'image', key: `uploads/dev/${upload.body.uploadId}` }]);
  });

  it('does not let another tenant use an upload', async () => {
    const upload = await call(stack, 'POST', '/v1/uploads');
    const other = await addApiKey(stack, 'other');
    const res = await call(stack, 'POST', '/v1/jobs', {
      key: other,
      body: { kind: 'invert', image: { uploadId: upload.body.uploadId } },
    });
    expect(res.status).toBe(404);
    expect(res.body.error.code).toBe('unknown_upload');
  });
});

describe('jobs', () => {
  it('creates a job with every default resolved and enqueues its id', async () => {
    const res = await createJob({
      kind: 'edit',
      image: { base64: PNG_BASE64 },
      targetPrompt: 'a blue square',
    });
    expect(res.status).toBe(202);
    expect(res.headers.get('location')).toBe(`/v1/jobs/${res.body.id}`);
    expect(res.body.params).toEqual({
      kind: 'edit',
      model: 'demo',
      steps: 20,
      guidance: 1,
      negativePrompt: '',
      sampler: { name: 'obelm' },
      outputFormat: 'png',
      sourcePrompt: '',
      targetPrompt: 'a blue square',
      strength: 0.5,
    });
    const seen: string[] = [];
    for (let i = 0; i < 5 && !seen.includes(res.body.id); i++) {
      const { Messages = [] } = await stack.deps.sqs.send(
        new ReceiveMessageCommand({ QueueUrl: stack.env['OBELM_JOBS_QUEUE_URL'], MaxNumberOfMessages: 10 }),
      );
      for (const m of Messages) seen.push(JobMessageSchema.parse(JSON.parse(m.Body ?? '')).jobId);
    }
    expect(seen).toContain(res.body.id);
  });

  it('gets a job, and hides it from another tenant', async () => {
    const { body: job } = await createJob({ kind: 'sample', seed: 7 });
    const mine = await call(stack, 'GET', `/v1/jobs/${job.id}`);
    expect(mine.status).toBe(200);
    expect(mine.body).toMatchObject({ id: job.id, status: 'queued', params: { seed: 7 } });
    const other = await addApiKey(stack, 'other');
    const theirs = await call(stack, 'GET', `/v1/jobs/${job.id}`, { key: other });
    expect(theirs.status).toBe(404);
    expect((await call(stack, 'GET', '/v1/jobs/..%2Fx')).status).toBe(404);
  });

  it('long-polls with ?wait= until the job finishes, or answers its current state when the wait ends', async () => {
    const { body: job } = await createJob({ kind: 'sample', seed: 8 });
    const started = Date.now();
    const unfinished = await call(stack, 'GET', `/v1/jobs/${job.id}?wait=0.3`);
    expect(unfinished.body.status).toBe('queued');
    expect(Date.now() - started).toBeGreaterThanOrEqual(300);

    const waiting = call(stack, 'GET', `/v1/jobs/${job.id}?wait=20`);
    await new Promise((resolve) => setTimeout(resolve, 100));
    await setJob(job.id, { status: 'failed', error: { code: 'model_error', message: 'boom' } });
    const finished = await waiting;
    expect(finished.status).toBe(200);
    expect(finished.body).toMatchObject({ id: job.id, status: 'failed', error: { code: 'model_error' } });
    expect(Date.now() - started).toBeLessThan(15_000);
  });

  it('rejects a bad wait with 400', async () => {
    const { body: job } = await createJob({ kind: 'sample', seed: 9 });
    for (const query of ['wait=x', 'wait=-1', 'wait=20.5', 'wait=1&colour=red']) {
      const res = await call(stack, 'GET', `/v1/jobs/${job.id}?${query}`);
      expect(res.status, query).toBe(400);
      expect(['invalid_request', 'unknown_field'], query).toContain(res.body.error.code);
    }
  });

  it('returns fresh presigned URLs for outputs', async () => {
    const id = await succeededInversion();
    const res = await call(stack, 'GET', `/v1/jobs/${id}`);
    expect(res.body.outputs.noise.url).toContain(`jobs/dev/${id}/noise.safetensors`);
    expect(Date.parse(res.body.outputs.noise.expiresAt)).toBeGreaterThan(Date.now());
  });

  it('checks noise jobs: not ready, incompatible, another tenant, and inherits their settings', async () => {
    const queued = await createJob({ kind: 'invert', image: { base64: PNG_BASE64 } });
    const notReady = await createJob({ kind: 'sample', noise: { jobId: queued.body.id } });
    expect(notReady.status).toBe(409);
    expect(notReady.body.error.code).toBe('noise_not_ready');

    const noiseId = await succeededInversion({ steps: 10, sampler: { name: 'bdia', gamma: 0.5 } });
    const steps = await createJob({ kind: 'sample', noise: { jobId: noiseId }, steps: 12 });
    expect(steps.status).toBe(409);
    expect(steps.body.error).toMatchObject({ code: 'incompatible_noise', details: { field: 'steps' } });
    const sampler = await createJob({
      kind: 'edit',
      noise: { jobId: noiseId },
      targetPrompt: 'x',
      sampler: { name: 'ddim' },
    });
    expect(sampler.body.error).toMatchObject({ code: 'incompatible_noise', details: { field: 'sampler' } });

    const ok = await createJob({ kind: 'sample', noise: { jobId: noiseId }, prompt: 'a red circle' });
    expect(ok.status).toBe(202);
    expect(ok.body.params).toMatchObject({ steps: 10, sampler: { name: 'bdia', gamma: 0.5 } });
    expect(ok.body.params.seed).toBeUndefined();

    const other = await addApiKey(stack, 'other');
    const foreign = await call(stack, 'POST', '/v1/jobs', {
      key: other,
      body: { kind: 'sample', noise: { jobId: noiseId } },
    });
    expect(foreign.status).toBe(404);
    expect(foreign.body.error.code).toBe('unknown_noise');
  });

  it('refuses noise of a kind that never has any as incompatible, not as not ready, in plain words', async () => {
    const reconstruct = await createJob({ kind: 'reconstruct', image: { base64: PNG_BASE64 } });
    expect(reconstruct.status).toBe(202);
    for (const kind of ['sample', 'invert', 'edit'] as const) {
      const res = await createJob({
        kind,
        noise: { jobId: reconstruct.body.id },
        ...(kind === 'edit' ? { targetPrompt: 'x' } : {}),
      });
      expect(res.status, kind).toBe(409);
      expect(res.body.error.code, kind).toBe('incompatible_noise');
      expect(res.body.error.details).toMatchObject({ field: 'noise', noiseKind: 'reconstruct' });
      expect(res.body.error.message).not.toMatch(/\ba (invert|edit|interpolate)\b/);
    }
    const invert = await createJob({ kind: 'invert', noise: { jobId: reconstruct.body.id } });
    expect(invert.body.error.message).toContain('an invert job starts from the noise of a sample job');
  });

  it('takes noise only from where it sits on the grid: invert/edit artifacts start, sample artifacts invert', async () => {
    const inversion = await succeededInversion();
    const edited = await succeededWithNoise({
      kind: 'edit',
      image: { base64: PNG_BASE64 },
      sourcePrompt: 'red circle',
      targetPrompt: 'blue circle',
      strength: 0.5,
    });
    const sampled = await succeededWithNoise({ kind: 'sample', prompt: 'red circle', seed: 1 });

    // A sample job's artifact is its final pair (x_1, x_0): it cannot start a sample or a slerp.
    for (const body of [
      { kind: 'sample', noise: { jobId: sampled } },
      { kind: 'interpolate', images: [{ jobId: inversion }, { jobId: sampled }] },
    ]) {
      const res = await createJob(body);
      expect(res.status, JSON.stringify(body)).toBe(409);
      expect(res.body.error).toMatchObject({ code: 'incompatible_noise', details: { noiseKind: 'sample' } });
    }
    // Only a sample job's kept pair is an image to invert; the others are noise already.
    for (const jobId of [inversion, edited]) {
      const res = await createJob({ kind: 'invert', noise: { jobId } });
      expect(res.status).toBe(409);
      expect(res.body.error).toMatchObject({ code: 'incompatible_noise', details: { accepted: ['sample'] } });
    }
    // Interpolation slerps full inversions only; an edit's artifact is a partial one.
    const partial = await createJob({
      kind: 'interpolate',
      images: [{ jobId: inversion }, { jobId: edited }],
    });
    expect(partial.body.error).toMatchObject({ code: 'incompatible_noise', details: { noiseKind: 'edit' } });

    // An edit from an artifact inherits the strength it was inverted to, and refuses another one.
    const fromInversion = await createJob({
      kind: 'edit',
      noise: { jobId: inversion },
      targetPrompt: 'blue circle',
    });
    expect(fromInversion.status).toBe(202);
    expect(fromInversion.body.params.strength).toBe(1);
    const fromEdit = await createJob({
      kind: 'edit',
      noise: { jobId: edited },
      targetPrompt: 'green circle',
    });
    expect(fromEdit.body.params.strength).toBe(0.5);
    const otherStrength = await createJob({
      kind: 'edit',
      noise: { jobId: edited },
      targetPrompt: 'green circle',
      strength: 0.8,
    });
    expect(otherStrength.status).toBe(409);
    expect(otherStrength.body.error).toMatchObject({
      code: 'incompatible_noise',
      details: { field: 'strength' },
    });

    const image = { base64: PNG_BASE64 };
    for (const body of [
      { kind: 'edit', image, noise: { jobId: inversion }, targetPrompt: 'blue circle' },
      { kind: 'invert', image, noise: { jobId: sampled } },
    ]) {
      const both = await createJob(body);
      expect(both.status, body.kind).toBe(400);
      expect(both.body.error.code).toBe('conflicting_inputs');
    }
  });

  it("inverts and edits a sample job's kept pair in that job's settings", async () => {
    const sampleSettings = {
      steps: 10,
      sampler: { name: 'bdia', gamma: 0.5 },
      guidance: 2,
      negativePrompt: 'green',
      prompt: 'red circle',
    };
    const sampled = await succeededWithNoise({ kind: 'sample', seed: 3, ...sampleSettings });

    // Inverting it exactly runs its trajectory backwards: every omitted setting comes from the sample job.
    const inverted = await createJob({ kind: 'invert', noise: { jobId: sampled } });
    expect(inverted.status).toBe(202);
    expect(inverted.body.params).toEqual({
      kind: 'invert',
      model: 'demo',
      outputFormat: 'png',
      ...sampleSettings,
    });
    // A setting that changes the trajectory is refused, naming it.
    for (const [field, value] of [
      ['prompt', 'blue circle'],
      ['guidance', 1],
      ['negativePrompt', ''],
      ['steps', 20],
      ['sampler', { name: 'obelm' }],
    ] as const) {
      const res = await createJob({ kind: 'invert', noise: { jobId: sampled }, [field]: value });
      expect(res.status, field).toBe(409);
      expect(res.body.error).toMatchObject({ code: 'incompatible_noise', details: { field } });
    }
    const restated = await createJob({ kind: 'invert', noise: { jobId: sampled }, ...sampleSettings });
    expect(restated.status).toBe(202);

    // An edit of it inverts with its prompt by default and picks its own strength, as for an image.
    const edit = await createJob({ kind: 'edit', noise: { jobId: sampled }, targetPrompt: 'blue circle' });
    expect(edit.status).toBe(202);
    expect(edit.body.params).toMatchObject({
      steps: 10,
      sampler: { name: 'bdia', gamma: 0.5 },
      guidance: 2,
      negativePrompt: 'green',
      sourcePrompt: 'red circle',
      targetPrompt: 'blue circle',
      strength: 0.5,
    });
    const stronger = await createJob({
      kind: 'edit',
      noise: { jobId: sampled },
      sourcePrompt: 'circle',
      targetPrompt: 'blue circle',
      strength: 0.8,
      guidance: 1,
    });
    expect(stronger.status).toBe(202);
    expect(stronger.body.params).toMatchObject({ sourcePrompt: 'circle', strength: 0.8, guidance: 1 });
    const otherGrid = await createJob({
      kind: 'edit',
      noise: { jobId: sampled },
      targetPrompt: 'blue circle',
      steps: 20,
    });
    expect(otherGrid.body.error).toMatchObject({ code: 'incompatible_noise', details: { field: 'steps' } });
  });

  it('cancels a queued job, flags a running one, and refuses a finished one', async () => {
    const { body: queued } = await createJob({ kind: 'sample' });
    const canceled = await call(stack, 'POST', `/v1/jobs/${queued.id}/cancel`);
    expect(canceled.status).toBe(200);
    expect(canceled.body.status).toBe('canceled');
    const again = await call(stack, 'POST', `/v1/jobs/${queued.id}/cancel`);
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('job_finished');

    const { body: running } = await createJob({ kind: 'sample' });
    await setJob(running.id, { status: 'running' });
    const flagged = await call(stack, 'POST', `/v1/jobs/${running.id}/cancel`);
    expect(flagged.status).toBe(200);
    expect(flagged.body).toMatchObject({ status: 'running', cancelRequested: true });
  });
});

describe('listing', () => {
  it('lists newest first, paginates with a cursor, and filters by status', async () => {
    const key = await addApiKey(stack, 'pager');
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const res = await call(stack, 'POST', '/v1/jobs', { key, body: { kind: 'sample', seed: i } });
      ids.push(res.body.id);
    }
    await call(stack, 'POST', `/v1/jobs/${ids[1]}/cancel`, { key });

    const seen: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const res = await call(stack, 'GET', `/v1/jobs?limit=2${cursor ? `&cursor=${cursor}` : ''}`, { key });
      expect(res.status).toBe(200);
      seen.push(...res.body.jobs.map((j: { id: string }) => j.id));
      cursor = res.body.nextCursor;
      pages++;
    } while (cursor);
    expect(seen).toEqual([...ids].reverse());
    expect(pages).toBe(3);

    const canceled = await call(stack, 'GET', '/v1/jobs?status=canceled', { key });
    expect(canceled.body.jobs.map((j: { id: string }) => j.id)).toEqual([ids[1]]);

    // A cursor belongs to its tenant.
    const first = await call(stack, 'GET', '/v1/jobs?limit=1', { key });
    const stolen = await call(stack, 'GET', `/v1/jobs?cursor=${first.body.nextCursor}`);
    expect(stolen.status).toBe(400);
    expect(stolen.body.error.code).toBe('invalid_cursor');
  });
});

describe('idempotency', () => {
  it('replays the same request and refuses a different body under the same key', async () => {
    const headers = { 'idempotency-key': `key-${Date.now()}` };
    const body = { kind: 'sample', seed: 42, prompt: 'a green triangle' };
    const first = await createJob(body, headers);
    expect(first.status).toBe(202);
    // Same content, other key order: the same request.
    const again = await createJob({ prompt: 'a green triangle', seed: 42, kind: 'sample' }, headers);
    expect(again.status).toBe(200);
    expect(again.body.id).toBe(first.body.id);
    const different = await createJob({ ...body, seed: 43 }, headers);
    expect(different.status).toBe(409);
    expect(different.body.error.code).toBe('idempotency_conflict');
    const bad = await createJob(body, { 'idempotency-key': 'has spaces' });
    expect(bad.body.error.code).toBe('invalid_idempotency_key');
  });

  it('never creates a job its key does not name, even in the second its claim expires', async () => {
    const key = `boundary-${Date.now()}`;
    const second = Math.floor(Date.now() / 1000);
    const Key = dbKeys.idempotency(stack.tenant, key);
    await stack.deps.db.send(
      new PutCommand({
        TableName: stack.env['OBELM_TABLE'],
        Item: { ...Key, jobId: 'job_other', requestHash: 'x', createdAt: '', ttl: second },
      }),
    );
    // Half-way through the claim's last second.
    const deps = { ...stack.deps, now: () => new Date(second * 1000 + 500) };
    const event = {
      version: '2.0',
      rawPath: '/v1/jobs',
      rawQueryString: '',
      headers: { authorization: `Bearer ${stack.devKey}`, 'idempotency-key': key },
      requestContext: { requestId: 'req-boundary' },
      body: JSON.stringify({ kind: 'sample', seed: 1 }),
      isBase64Encoded: false,
    } as unknown as HttpEvent;
    const context = { getRemainingTimeInMillis: () => 30_000 } as Context;
    const res = await HANDLER_FACTORIES.createJob(() => deps)(event, context);
    const { Item } = await stack.deps.db.send(
      new GetCommand({ TableName: stack.env['OBELM_TABLE'], Key, ConsistentRead: true }),
    );
    if (res.statusCode === 202) expect(Item?.['jobId']).toBe(JSON.parse(res.body as string).id);
    else expect(res.statusCode).toBe(409);
  });
});
