/**
 * The S3 gateway's connections to s3rver: kept for the next request, and closed by the gateway when idle, before
 * s3rver would close them (packages/local/src/s3auth/gateway.ts, UPSTREAM_IDLE_MS). A request sent on a
 * connection just as its server closes it fails, and the gateway answered that with a 503: CI saw one after an
 * outage test left the connections idle. Here the upstream is a plain Node server with Node's keep-alive
 * defaults, as s3rver runs. Its answers' Connection and Keep-Alive headers speak of that connection and stay at the
 * gateway (s3auth/forward.ts).
 */
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { BUCKET_CORS } from '@obelm/core';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { type S3Gateway, startS3Gateway, UPSTREAM_IDLE_MS } from '../../packages/local/src/s3auth/gateway.ts';

interface UpstreamConnection {
  requests: number;
  lastAnswerAt: number;
  /** Who ended it, and how long after its last answer. */
  closed?: { by: 'gateway' | 'upstream'; idleMs: number };
}

let upstream: Server;
let gateway: S3Gateway;
const connections: UpstreamConnection[] = [];

beforeAll(async () => {
  const connectionOf = new WeakMap<object, UpstreamConnection>();
  upstream = createServer((req, res) => {
    req.resume();
    res.on('finish', () => {
      const connection = connectionOf.get(req.socket);
      if (!connection) return;
      connection.requests += 1;
      connection.lastAnswerAt = performance.now();
    });
    // A slow answer: longer than the gateway keeps an idle connection.
    if (req.url?.startsWith('/bucket/slow')) setTimeout(() => res.end('slow'), UPSTREAM_IDLE_MS + 300);
    else res.end('ok');
  });
  upstream.on('connection', (socket) => {
    const connection: UpstreamConnection = { requests: 0, lastAnswerAt: performance.now() };
    connections.push(connection);
    connectionOf.set(socket, connection);
    // The upstream ends an idle connection by its own timeout; the gateway's end reaches it as the peer's FIN.
    let by: 'gateway' | 'upstream' | undefined;
    socket.on('timeout', () => {
      by ??= 'upstream';
    });
    socket.on('end', () => {
      by ??= 'gateway';
    });
    socket.on('close', () => {
      connection.closed = { by: by ?? 'upstream', idleMs: performance.now() - connection.lastAnswerAt };
    });
  });
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  const { port } = upstream.address() as AddressInfo;
  gateway = await startS3Gateway({
    upstream: { host: '127.0.0.1', port },
    accounts: { S3RVER: 'S3RVER' },
    cors: { rule: BUCKET_CORS, origins: () => [] },
  });
});
afterAll(async () => {
  await new Promise((resolve) => gateway?.server.close(resolve));
  upstream?.closeAllConnections();
  await new Promise((resolve) => upstream?.close(resolve));
});

/** A presigned GET of `key` through the gateway, as the API hands out for a job's outputs. */
async function presignGet(key: string): Promise<string> {
  const client = new S3Client({
    region: 'us-east-1',
    endpoint: gateway.endpoint,
    forcePathStyle: true,
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
  });
  try {
    return await getSignedUrl(client, new GetObjectCommand({ Bucket: 'bucket', Key: key }));
  } finally {
    client.destroy();
  }
}

test('requests in a row share a connection to s3rver, and the gateway closes it when idle, before s3rver would', async () => {
  const url = await presignGet('key');
  for (let n = 0; n < 3; n++) {
    const res = await fetch(url);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('ok');
  }
  expect(connections.map((c) => c.requests)).toEqual([3]);

  // s3rver's side would end it after keepAliveTimeout (5 s) plus Node's 1 s; the gateway's after UPSTREAM_IDLE_MS.
  expect(upstream.keepAliveTimeout).toBeGreaterThan(UPSTREAM_IDLE_MS);
  await expect
    .poll(() => connections[0]!.closed, { timeout: UPSTREAM_IDLE_MS + 3_000, interval: 50 })
    .toBeDefined();
  const closed = connections[0]!.closed!;
  expect(closed.by).toBe('gateway');
  expect(closed.idleMs).toBeGreaterThanOrEqual(UPSTREAM_IDLE_MS - 50);
  expect(closed.idleMs).toBeLessThan(upstream.keepAliveTimeout);
});

test('an answer slower than the idle limit is not cut off', async () => {
  const res = await fetch(await presignGet('slow'));
  expect(res.status).toBe(200);
  expect(await res.text()).toBe('slow');
});

test("the client gets the gateway's keep-alive, not s3rver's: that one is about s3rver's connection", async () => {
  const gatewayKeepAlive = gateway.server.keepAliveTimeout;
  gateway.server.keepAliveTimeout = 3_000;
  try {
    const url = new URL(await presignGet('key'));
    const headers = await new Promise<Record<string, string | string[] | undefined>>((resolve, reject) => {
      const req = request(url, { agent: false, headers: { connection: 'keep-alive' } }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.headers));
      });
      req.on('error', reject);
      req.end();
    });
    // s3rver's would say timeout=5.
    expect(headers['keep-alive']).toBe('timeout=3');
  } finally {
    gateway.server.keepAliveTimeout = gatewayKeepAlive;
  }
});
