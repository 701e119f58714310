import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';
import { afterEach, describe, expect, it } from 'vitest';
import {
  createObelmClient,
  ObelmApiError,
  ObelmNetworkError,
  ObelmWebhookVerificationError,
  verifyWebhook,
} from '../src/index.ts';

/** Retries and errors against a tiny scripted HTTP server on 127.0.0.1, and webhook checks: no stack needed. */

let server: Server | undefined;
afterEach(async () => {
  await new Promise((resolve) => server?.close(resolve) ?? resolve(undefined));
  server = undefined;
});

/** Serves `answers` in turn (the last one repeats) and records each request's method, path and headers. */
async function scripted(answers: ((res: ServerResponse) => void)[]) {
  const seen: { at: number; method: string; url: string; headers: IncomingMessage['headers'] }[] = [];
  server = createServer((req, res) => {
    seen.push({ at: Date.now(), method: req.method ?? '', url: req.url ?? '', headers: req.headers });
    req.resume();
    answers[Math.min(seen.length - 1, answers.length - 1)]!(res);
  });
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { baseUrl: `http://127.0.0.1:${port}`, seen };
}

const json =
  (status: number, body: unknown, headers: Record<string, string> = {}) =>
  (res: ServerResponse) => {
    res.writeHead(status, { 'content-type': 'application/json', ...headers });
    res.end(JSON.stringify(body));
  };
const unavailable = json(
  503,
  { error: { code: 'service_unavailable', message: 'busy', details: { service: 'dynamodb' } } },
  { 'retry-after': '1', 'x-request-id': 'req-1' },
);

describe('retries', () => {
  it('waits out a 503 for its Retry-After, then returns the answer', async () => {
    const { baseUrl, seen } = await scripted([unavailable, json(200, { models: [] })]);
    const client = createObelmClient({ baseUrl, apiKey: 'k', retry: { baseMs: 10 } });
    const started = Date.now();
    expect(await client.models()).toEqual({ models: [] });
    expect(seen).toHaveLength(2);
    expect(seen[1]!.at - seen[0]!.at).toBeGreaterThanOrEqual(1000);
    expect(Date.now() - started).toBeLessThan(5000);
    expect(seen[0]!.headers.authorization).toBe('Bearer k');
  });

  it('gives up after its attempts with the API error, status, details and request id', async () => {
    const { baseUrl, seen } = await scripted([unavailable]);
    const client = createObelmClient({ baseUrl, apiKey: 'k', retry: { attempts: 2, baseMs: 10 } });
    const error = await client.getJob('job_1').catch((err: unknown) => err);
    expect(seen).toHaveLength(2);
    expect(error).toBeInstanceOf(ObelmApiError);
    expect(error).toMatchObject({
      status: 503,
      code: 'service_unavailable',
      message: 'busy',
      details: { service: 'dynamodb' },
      requestId: 'req-1',
      retryAfterSeconds: 1,
    });
  });

  it('resends a create with the same generated Idempotency-Key', async () => {
    const job = { id: 'job_1', status: 'queued' };
    const { baseUrl, seen } = await scripted([
      json(
        429,
        { error: { code: 'rate_limited', message: 'slow down', details: {} } },
        { 'retry-after': '0' },
      ),
      json(202, job),
    ]);
    const client = createObelmClient({ baseUrl, apiKey: 'k', retry: { baseMs: 10 } });
    expect(await client.createJob({ kind: 'sample', prompt: 'red circle' })).toEqual(job);
    const keys = seen.map((s) => s.headers['idempotency-key']);
    expect(keys[0]).toMatch(/^[0-9a-f-]{36}$/);
    expect(keys).toEqual([keys[0], keys[0]]);
    const other = await client.createJob({ kind: 'sample' }, { idempotencyKey: 'mine' });
    expect(other).toEqual(job);
    expect(seen[2]!.headers['idempotency-key']).toBe('mine');
  });

  it('does not retry a 4xx, and maps a body that is not the API shape to http_<status>', async () => {
    const { baseUrl, seen } = await scripted([
      (res) => {
        res.writeHead(502, { 'content-type': 'text/html' });
        res.end('<html>bad gateway</html>');
      },
    ]);
    const client = createObelmClient({ baseUrl, apiKey: 'k', retry: { attempts: 3, baseMs: 10 } });
    const error = await client.usage().catch((err: unknown) => err);
    expect(seen).toHaveLength(1);
    expect(error).toMatchObject({ status: 502, code: 'http_502' });
    expect((error as Error).message).toContain('bad gateway');
  });

  it('wraps a refused connection as ObelmNetworkError after retrying a read', async () => {
    const { baseUrl } = await scripted([json(200, {})]);
    await new Promise((resolve) => server!.close(resolve));
    server = undefined;
    const tries: string[] = [];
    const client = createObelmClient({
      baseUrl,
      apiKey: 'k',
      retry: { attempts: 3, baseMs: 5 },
      fetch: (request) => {
        tries.push(request.method);
        return fetch(request);
      },
    });
    await expect(client.getJob('job_1')).rejects.toBeInstanceOf(ObelmNetworkError);
    expect(tries).toEqual(['GET', 'GET', 'GET']);
    // A POST without an Idempotency-Key is not repeated: the first try may have been carried out.
    tries.length = 0;
    await expect(client.batches.close('b_1')).rejects.toMatchObject({ code: 'network_error' });
    expect(tries).toEqual(['POST']);
  });
});

describe('verifyWebhook', () => {
  const secret = `whsec_${Buffer.from('a test signing secret, 32 bytes!').toString('base64')}`;
  const body = JSON.stringify({ type: 'job.succeeded', data: { id: 'job_1' } });
  const signed = () => {
    const id = 'msg_1';
    const timestamp = new Date();
    const signature = new Webhook(secret).sign(id, timestamp, body);
    return {
      'webhook-id': id,
      'webhook-timestamp': String(Math.floor(timestamp.getTime() / 1000)),
      'webhook-signature': signature,
    };
  };

  it('returns the event of a delivery signed with the secret (record or Headers)', () => {
    expect(verifyWebhook(secret, signed(), body)).toEqual(JSON.parse(body));
    expect(verifyWebhook(secret, new Headers(signed()), new TextEncoder().encode(body))).toEqual(
      JSON.parse(body),
    );
  });

  it('throws a typed error on a tampered body, another secret or a missing signature', () => {
    const headers = signed();
    const tampered = body.replace('job_1', 'job_2');
    expect(() => verifyWebhook(secret, headers, tampered)).toThrow(ObelmWebhookVerificationError);
    const other = `whsec_${Buffer.from('another secret of thirty-two by.').toString('base64')}`;
    expect(() => verifyWebhook(other, headers, body)).toThrow(ObelmWebhookVerificationError);
    const { 'webhook-signature': _, ...unsigned } = headers;
    expect(() => verifyWebhook(secret, unsigned, body)).toThrow(
      expect.objectContaining({ code: 'invalid_webhook_signature' }),
    );
  });
});
