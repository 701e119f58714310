import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createDeps, HANDLER_FACTORIES, type HttpEvent } from '@obelm/api';
import type { HandlerName } from '@obelm/core';
import { type LocalStack, startLocalStack } from '@obelm/local';
import type { Context } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, PNG_BASE64 } from './helpers.ts';

/**
 * A backing service that does not answer (here: a closed port) is a 503 with a code naming it and a
 * Retry-After, never a 500: the request was fine and a retry may well succeed.
 */

let stack: LocalStack;
let dataDir: string;
let deadUrl: string;

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'obelm-unavailable-'));
  stack = await startLocalStack({ dataDir, port: 0, worker: false });
  // A port that was just free: nothing listens there, so connections are refused.
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  deadUrl = `http://127.0.0.1:${port}`;
});
afterAll(async () => {
  await stack?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

const context = { getRemainingTimeInMillis: () => 30_000 } as Context;

/** One call of a handler whose deps reach the stack, except `dead` (an AWS_ENDPOINT_URL_* variable). */
async function callWith(dead: string, handler: HandlerName, body?: unknown, headers: object = {}) {
  const deps = createDeps({ ...stack.env, [dead]: deadUrl });
  const event = {
    version: '2.0',
    routeKey: handler,
    rawPath: '/',
    rawQueryString: '',
    headers: { authorization: `Bearer ${stack.devKey}`, 'content-type': 'application/json', ...headers },
    requestContext: { requestId: `req-${dead}` },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    isBase64Encoded: false,
  } as unknown as HttpEvent;
  const res = await HANDLER_FACTORIES[handler](() => deps)(event, context);
  return { ...res, json: JSON.parse(res.body as string) };
}

describe('a backing service that does not answer', () => {
  it('DynamoDB: 503 service_unavailable naming it, with Retry-After', async () => {
    const res = await callWith('AWS_ENDPOINT_URL_DYNAMODB', 'listJobs');
    expect(res.statusCode).toBe(503);
    expect(res.headers?.['retry-after']).toBe('2');
    expect(res.json.error).toMatchObject({
      code: 'service_unavailable',
      details: { service: 'DynamoDB', requestId: 'req-AWS_ENDPOINT_URL_DYNAMODB' },
    });
  });

  it('S3: 503 for a job whose inline image cannot be stored, and no job is left behind', async () => {
    const res = await callWith('AWS_ENDPOINT_URL_S3', 'createJob', {
      kind: 'invert',
      image: { base64: PNG_BASE64 },
    });
    expect(res.statusCode).toBe(503);
    expect(res.json.error).toMatchObject({ code: 'service_unavailable', details: { service: 'S3' } });
    const list = await callWith('AWS_ENDPOINT_URL_S3', 'listJobs');
    expect(list.json.jobs).toEqual([]);
  });

  it('SQS: 503 queue_unavailable with Retry-After, the job marked failed', async () => {
    const res = await callWith('AWS_ENDPOINT_URL_SQS', 'createJob', { kind: 'sample', seed: 1 });
    expect(res.statusCode).toBe(503);
    expect(res.headers?.['retry-after']).toBe('2');
    expect(res.json.error.code).toBe('queue_unavailable');
    const list = await callWith('AWS_ENDPOINT_URL_SQS', 'listJobs');
    expect(list.json.jobs.map((j: { status: string }) => j.status)).toEqual(['failed']);
  });

  it('SQS: a retry with the same Idempotency-Key creates the job, not a replay of the one never queued', async () => {
    const body = { kind: 'sample', seed: 2 };
    const headers = { 'idempotency-key': 'enqueue-failed' };
    const res = await callWith('AWS_ENDPOINT_URL_SQS', 'createJob', body, headers);
    expect(res.statusCode).toBe(503);
    const retry = await call(stack, 'POST', '/v1/jobs', { body, headers });
    expect(retry.status).toBe(202);
    expect(retry.body.id).not.toBe(res.json.error.details.jobId);
    expect(retry.body.status).toBe('queued');
  });
});
