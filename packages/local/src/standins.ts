import { mkdirSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { BUCKET_CORS } from '@obelm/core';
import dynalite from 'dynalite';
import { buildApp } from 'fauxqs';
import S3rver from 's3rver';
import { startS3Gateway } from './s3auth/gateway.ts';
import { atomicWrites } from './s3rverWrites.ts';

/** A running stand-in: the endpoint the AWS SDK talks to, and how to stop it. */
export interface StandIn {
  endpoint: string;
  stop(): Promise<void>;
}

const LOOPBACK = '127.0.0.1';
/** s3rver's one account, which the stack's clients use. */
const S3RVER_ACCOUNT = { S3RVER: 'S3RVER' };

/**
 * Closes a node:http server, dropping its keep-alive sockets so close does not wait for them. With `drainMs`,
 * requests in progress get that long to finish first (idle sockets still go at once).
 */
export function closeServer(server: Server, drainMs = 0): Promise<void> {
  const closed = new Promise<void>((resolve, reject) =>
    server.close((err) => (err ? reject(err) : resolve())),
  );
  if (drainMs <= 0) {
    server.closeAllConnections();
    return closed;
  }
  server.closeIdleConnections();
  const cutOff = setTimeout(() => server.closeAllConnections(), drainMs);
  return closed.finally(() => clearTimeout(cutOff));
}

/**
 * How long dynalite's requests in progress may finish when it stops: it closes its LevelDB store once the server
 * has closed, and an operation cut off mid-way then throws "Database is closed" outside any request (an uncaught
 * exception in whatever process hosts the stack, e.g. an outage test). Its requests take milliseconds.
 */
const DYNAMO_DRAIN_MS = 500;

/**
 * S3: s3rver, objects as files under `dir` (persists across restarts) written whole before a PUT is answered
 * (s3rverWrites.ts), behind a gateway that checks signatures and POST policies as S3 does (s3auth/gateway.ts);
 * the endpoint is the gateway's. `port`: the endpoint's; 0 picks one.
 * `onObjectEvent` receives s3rver's event notifications (S3's format) for objects stored and removed (s3Events.ts).
 * `corsOrigins`: the browser origins allowed now (read at each request, so they may grow once the API listens);
 * the gateway answers CORS for them by the cloud bucket's rule (core BUCKET_CORS).
 */
export async function startS3(
  dir: string,
  port = 0,
  onObjectEvent?: (notification: unknown) => void,
  corsOrigins: () => readonly string[] = () => [],
): Promise<StandIn> {
  mkdirSync(dir, { recursive: true });
  const s3rver = new S3rver({ address: LOOPBACK, port: 0, silent: true, directory: dir });
  atomicWrites(s3rver.store);
  if (onObjectEvent) s3rver.on('event', onObjectEvent);
  const address = await s3rver.run();
  const stopS3rver = () => (s3rver.httpServer ? closeServer(s3rver.httpServer) : Promise.resolve());
  const gateway = await startS3Gateway({
    upstream: { host: LOOPBACK, port: address.port },
    accounts: S3RVER_ACCOUNT,
    host: LOOPBACK,
    port,
    cors: { rule: BUCKET_CORS, origins: corsOrigins },
  }).catch(async (err: unknown) => {
    await stopS3rver();
    throw err;
  });
  return {
    endpoint: gateway.endpoint,
    stop: async () => {
      await closeServer(gateway.server);
      await stopS3rver();
    },
  };
}

/**
 * The origins a page served by the local API at `apiUrl` has: its own, and on a loopback address the same server
 * named `localhost` (a browser sends the host as typed).
 */
export function browserOriginsOf(apiUrl: string): string[] {
  const url = new URL(apiUrl);
  if (url.hostname !== LOOPBACK && url.hostname !== '[::1]') return [url.origin];
  const named = new URL(apiUrl);
  named.hostname = 'localhost';
  return [url.origin, named.origin];
}

/**
 * SQS: fauxqs, in memory. Built with `buildApp` rather than `startFauxqs` because the latter always binds
 * 0.0.0.0; queue URLs then name the host the client used, i.e. 127.0.0.1:port.
 */
export async function startSqs(port = 0): Promise<StandIn> {
  const app = buildApp({ logger: false });
  const address = await app.listen({ port, host: LOOPBACK });
  return { endpoint: address, stop: () => app.close() };
}

/** DynamoDB: dynalite, a LevelDB store under `dir` (persists across restarts). */
export async function startDynamo(dir: string, port = 0): Promise<StandIn> {
  mkdirSync(dir, { recursive: true });
  const server = dynalite({ path: join(dir), createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, LOOPBACK, () => resolve());
  });
  const address = server.address() as AddressInfo;
  return {
    endpoint: `http://${LOOPBACK}:${address.port}`,
    stop: () => closeServer(server, DYNAMO_DRAIN_MS),
  };
}
