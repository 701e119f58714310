import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApiError } from '@obelm/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkWebhookUrl, postWebhook, type Resolver } from '../src/webhooks/guard.ts';

/**
 * The webhook SSRF guard: which URLs it refuses and why, without connecting anywhere (names resolve through
 * stubs), and single attempts against real receivers on 127.0.0.1 (the local stack's allowance): status and
 * latency, timeouts, a cut response, no redirect followed, nothing sent to a refused URL.
 */

const CLOUD = { allowLoopback: false };
const LOCAL = { allowLoopback: true };

/** A resolver that knows a few names, and none else. */
const names: Record<string, string[]> = {
  'hooks.example.com': ['93.184.215.14', '2606:2800:21f:cb07:6820:80da:af6b:8b2c'],
  'loopback.example.com': ['127.0.0.1'],
  'mixed.example.com': ['93.184.215.14', '10.1.2.3'],
  'metadata.example.com': ['169.254.169.254'],
  'empty.example.com': [],
};
const stub: Resolver = async (hostname) => {
  const addresses = names[hostname];
  if (!addresses) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
  return addresses;
};

/** The `details` of the `invalid_webhook` a URL is refused with. */
async function refusal(url: string, opts: { allowLoopback: boolean; resolve?: Resolver }) {
  const err = await checkWebhookUrl(url, { resolve: stub, ...opts }).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err, url).toBeInstanceOf(ApiError);
  const apiError = err as ApiError;
  expect(apiError.status).toBe(400);
  expect(apiError.code).toBe('invalid_webhook');
  return apiError.details as { field: string; reason: string; range?: string; address?: string };
}

describe('checkWebhookUrl', () => {
  it('accepts https to public addresses, any port', async () => {
    for (const url of [
      'https://hooks.example.com/obelm?x=1',
      'https://hooks.example.com:8443/',
      'https://93.184.215.14/',
      'https://[2606:2800:21f:cb07:6820:80da:af6b:8b2c]/hook',
    ]) {
      await expect(checkWebhookUrl(url, { ...CLOUD, resolve: stub }), url).resolves.toBeUndefined();
    }
  });

  it('refuses other schemes, http in the cloud, URLs with credentials and non-URLs', async () => {
    expect(await refusal('http://hooks.example.com/', CLOUD)).toMatchObject({ reason: 'scheme' });
    expect(await refusal('http://hooks.example.com/', LOCAL)).toMatchObject({ reason: 'scheme' });
    expect(await refusal('ftp://hooks.example.com/', CLOUD)).toMatchObject({ reason: 'scheme' });
    expect(await refusal('http://127.0.0.1:8080/', CLOUD)).toMatchObject({ reason: 'scheme' });
    expect(await refusal('https://user:pass@hooks.example.com/', CLOUD)).toMatchObject({
      field: 'webhook.url',
      reason: 'credentials',
    });
    expect(await refusal('not a url', CLOUD)).toMatchObject({ reason: 'invalid_url' });
  });

  it('refuses every private, loopback, link-local and special address, literal or IPv4-mapped', async () => {
    const cases: [string, string][] = [
      ['https://127.0.0.1/', 'loopback'],
      ['https://0x7f.1/', 'loopback'],
      ['https://2130706433/', 'loopback'],
      ['https://[::1]/', 'loopback'],
      ['https://10.0.0.1/', 'private'],
      ['https://172.16.5.4/', 'private'],
      ['https://192.168.1.1/', 'private'],
      ['https://169.254.169.254/latest/meta-data/', 'linkLocal'],
      ['https://[fe80::1]/', 'linkLocal'],
      ['https://100.64.0.1/', 'carrierGradeNat'],
      ['https://224.0.0.1/', 'multicast'],
      ['https://[ff02::1]/', 'multicast'],
      ['https://0.0.0.0/', 'unspecified'],
      ['https://[::]/', 'unspecified'],
      ['https://255.255.255.255/', 'broadcast'],
      ['https://240.0.0.1/', 'reserved'],
      ['https://[fc00::1]/', 'uniqueLocal'],
      ['https://[fd12:3456::1]/', 'uniqueLocal'],
      ['https://[::ffff:169.254.169.254]/', 'linkLocal'],
      ['https://[::ffff:10.0.0.1]/', 'private'],
      ['https://[64:ff9b::a9fe:a9fe]/', 'rfc6052'],
      ['https://[2002:a9fe:a9fe::1]/', '6to4'],
      ['https://[::7f00:1]/', 'reserved'],
    ];
    for (const [url, range] of cases) {
      expect(await refusal(url, CLOUD), url).toMatchObject({ reason: 'blocked_address', range });
    }
  });

  it('refuses a name when any of its addresses is refused, and a name that does not resolve', async () => {
    expect(await refusal('https://loopback.example.com/', CLOUD)).toMatchObject({
      reason: 'blocked_address',
      address: '127.0.0.1',
    });
    expect(await refusal('https://mixed.example.com/', CLOUD)).toMatchObject({ address: '10.1.2.3' });
    expect(await refusal('https://metadata.example.com/', CLOUD)).toMatchObject({ range: 'linkLocal' });
    expect(await refusal('https://unknown.example.com/', CLOUD)).toMatchObject({ reason: 'unresolvable' });
    expect(await refusal('https://empty.example.com/', CLOUD)).toMatchObject({ reason: 'unresolvable' });
  });

  it('with the local allowance: only an IPv4 loopback literal, over http or https', async () => {
    await expect(checkWebhookUrl('http://127.0.0.1:8080/hook', LOCAL)).resolves.toBeUndefined();
    await expect(checkWebhookUrl('https://127.0.0.1/hook', LOCAL)).resolves.toBeUndefined();
    // Names that resolve to loopback (the system resolver's localhost, or any other name) stay refused.
    expect(await refusal('https://localhost/', { ...LOCAL, resolve: undefined })).toMatchObject({
      reason: 'blocked_address',
      range: 'loopback',
    });
    expect(await refusal('https://loopback.example.com/', LOCAL)).toMatchObject({ range: 'loopback' });
    expect(await refusal('http://[::1]:8080/', LOCAL)).toMatchObject({ reason: 'scheme' });
    expect(await refusal('https://[::1]:8080/', LOCAL)).toMatchObject({ range: 'loopback' });
    expect(await refusal('https://169.254.169.254/', LOCAL)).toMatchObject({ range: 'linkLocal' });
    expect(await refusal('https://10.0.0.1/', LOCAL)).toMatchObject({ range: 'private' });
  });
});

/** A receiver on 127.0.0.1 whose behaviour each test sets. */
let server: Server;
let base: string;
let behave: (req: IncomingMessage, res: ServerResponse) => void;
const received: { method?: string; url?: string; headers: IncomingMessage['headers']; body: string }[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk) => (body += chunk));
    req.on('end', () => {
      received.push({ method: req.method, url: req.url, headers: req.headers, body });
      behave(req, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server?.closeAllConnections();
  await new Promise((resolve) => server?.close(resolve));
});

const post = (path: string, opts = LOCAL) =>
  postWebhook(`${base}${path}`, '{"type":"job.succeeded"}', { 'webhook-id': 'evt_1' }, opts);

describe('postWebhook', () => {
  it("POSTs the body with its headers and returns the receiver's status and the latency", async () => {
    received.length = 0;
    behave = (_req, res) => res.writeHead(204).end();
    const result = await post('/hooks/obelm?tenant=a');
    expect(result).toEqual({ status: 204, latencyMs: expect.any(Number) });
    expect(result.latencyMs).toBeGreaterThanOrEqual(0);
    expect(received).toEqual([
      expect.objectContaining({
        method: 'POST',
        url: '/hooks/obelm?tenant=a',
        body: '{"type":"job.succeeded"}',
      }),
    ]);
    expect(received[0]!.headers).toMatchObject({
      'content-type': 'application/json',
      'user-agent': 'obelm-webhooks',
      'webhook-id': 'evt_1',
    });
  });

  it('gives up on a receiver that does not answer in time', async () => {
    behave = () => {}; // never answers
    const result = await postWebhook(`${base}/slow`, '{}', {}, { ...LOCAL, limits: { totalTimeoutMs: 300 } });
    expect(result.status).toBeUndefined();
    expect(result.error).toMatch(/no answer within 300 ms/);
    expect(result.latencyMs).toBeGreaterThanOrEqual(290);
    expect(result.latencyMs).toBeLessThan(3000);
  });

  it('stops reading an endless answer after the limit and closes the connection', async () => {
    let closed!: Promise<boolean>;
    behave = (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      const chunk = 'x'.repeat(1024);
      const timer = setInterval(() => res.write(chunk), 5);
      closed = new Promise((resolve) =>
        res.on('close', () => {
          clearInterval(timer);
          resolve(res.writableFinished);
        }),
      );
    };
    const started = Date.now();
    const result = await post('/endless');
    // Far sooner than the 10 s total limit, which an unread stream would run into.
    expect(Date.now() - started).toBeLessThan(3000);
    expect(result).toEqual({ status: 200, latencyMs: expect.any(Number) });
    expect(await closed).toBe(false); // the receiver never finished: it was cut off
  });

  it('does not follow a redirect: the 3xx is the attempt', async () => {
    received.length = 0;
    behave = (req, res) =>
      req.url === '/moved'
        ? res.writeHead(302, { location: `${base}/target` }).end()
        : res.writeHead(200).end();
    const result = await post('/moved');
    expect(result).toMatchObject({ status: 302, error: expect.stringMatching(/redirect/) });
    expect(received.map((r) => r.url)).toEqual(['/moved']);
  });

  it('reports a refused connection and a guard refusal as errors, sending nothing to a refused URL', async () => {
    const closedPort = await new Promise<number>((resolve) => {
      const probe = createServer().listen(0, '127.0.0.1', () => {
        const { port } = probe.address() as AddressInfo;
        probe.close(() => resolve(port));
      });
    });
    const refusedConnection = await postWebhook(`http://127.0.0.1:${closedPort}/`, '{}', {}, LOCAL);
    expect(refusedConnection).toMatchObject({ error: expect.stringMatching(/ECONNREFUSED/) });
    expect(refusedConnection.status).toBeUndefined();

    received.length = 0;
    behave = (_req, res) => res.writeHead(204).end();
    const guarded = await post('/hook', CLOUD);
    expect(guarded).toMatchObject({ error: expect.stringMatching(/^refused: .*https/) });
    expect(received).toEqual([]);
  });
});
