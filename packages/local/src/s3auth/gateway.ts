import { mkdtemp, rm } from 'node:fs/promises';
import { Agent, createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { admit } from './admit.ts';
import { type BucketCors, corsHeaders, preflight } from './cors.ts';
import { S3Refusal, sendS3Error } from './errors.ts';
import { forward } from './forward.ts';
import type { S3Accounts } from './signer.ts';

export interface S3GatewayOptions {
  /** Where s3rver listens. */
  upstream: { host: string; port: number };
  /** The accounts S3 knows: access key id -> secret. */
  accounts: S3Accounts;
  host?: string;
  /** The gateway's port; 0 picks a free one. */
  port?: number;
  /** The bucket's CORS rule and allowed origins; none: no CORS (preflights refused, as S3 without a rule). */
  cors?: BucketCors;
}

export interface S3Gateway {
  /** The S3 endpoint clients use. */
  endpoint: string;
  server: Server;
}

/**
 * How long an idle connection to s3rver is kept for the next request. The gateway must close it first: Node's agent
 * otherwise keeps it until s3rver does (a Node server closes an idle one after its keepAliveTimeout, 5 s, plus
 * 1 s), and a request sent on it as s3rver closes it fails (ECONNRESET, answered 503). The stack's process hosts
 * both ends, so a request and s3rver's close can meet within one turn of its event loop. (The agent's timeout ends
 * only idle connections: a slow answer in progress is not cut.)
 */
export const UPSTREAM_IDLE_MS = 1_000;

/**
 * An HTTP front for s3rver that forwards only what real S3 would accept (admit.ts): SigV4 header signatures,
 * presigned URLs and POST policies are verified with the AWS SDK's signer, anonymous requests are refused.
 * It answers CORS as the bucket's rule does (cors.ts): preflights itself, and allowed origins on every answer.
 * Closing the server also closes its connections to s3rver.
 */
export async function startS3Gateway(options: S3GatewayOptions): Promise<S3Gateway> {
  const agent = new Agent({ keepAlive: true, timeout: UPSTREAM_IDLE_MS });
  const spoolDir = await mkdtemp(join(tmpdir(), 'obelm-s3-gateway-'));
  const upstream = { ...options.upstream, agent };
  const server = createServer((req, res) => {
    if (req.method === 'OPTIONS') {
      // A preflight needs no credentials and is answered here, by the bucket's rule, as S3 does.
      req.resume();
      try {
        res.writeHead(200, { ...preflight(req, options.cors), 'content-length': 0 }).end();
      } catch (err) {
        sendS3Error(res, req.method, asRefusal(err));
      }
      return;
    }
    // On refusals too, so a page can read why its upload was refused.
    const cors = corsHeaders(req, options.cors);
    admit(req, { accounts: options.accounts, now: Date.now(), spoolDir }).then(
      (admitted) => forward(req, res, admitted, upstream, cors),
      (err: unknown) => {
        // Drop the unread body so the client reads the answer (a POST form's reader drains its own).
        if (req.listenerCount('readable') === 0) req.resume();
        sendS3Error(res, req.method, asRefusal(err), cors);
      },
    );
  });
  server.on('close', () => {
    agent.destroy();
    void rm(spoolDir, { recursive: true, force: true });
  });
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  return { endpoint: `http://${host}:${port}`, server };
}

/** An S3 refusal as it is; anything else is our failure, answered as S3's InternalError. */
const asRefusal = (err: unknown): S3Refusal =>
  err instanceof S3Refusal
    ? err
    : new S3Refusal(500, 'InternalError', 'We encountered an internal error. Please try again.');
