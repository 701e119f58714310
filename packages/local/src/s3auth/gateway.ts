import { mkdtemp, rm } from 'node:fs/promises';
import { Agent, createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { admit } from './admit.ts';
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
}

export interface S3Gateway {
  /** The S3 endpoint clients use. */
  endpoint: string;
  server: Server;
}

/**
 * An HTTP front for s3rver that forwards only what real S3 would accept (admit.ts): SigV4 header signatures,
 * presigned URLs and POST policies are verified with the AWS SDK's signer, anonymous requests are refused.
 * Closing the server also closes its connections to s3rver.
 */
export async function startS3Gateway(options: S3GatewayOptions): Promise<S3Gateway> {
  const agent = new Agent({ keepAlive: true });
  const spoolDir = await mkdtemp(join(tmpdir(), 'obelm-s3-gateway-'));
  const upstream = { ...options.upstream, agent };
  const server = createServer((req, res) => {
    admit(req, { accounts: options.accounts, now: Date.now(), spoolDir }).then(
      (admitted) => forward(req, res, admitted, upstream),
      (err: unknown) => {
        // Drop the unread body so the client reads the answer (a POST form's reader drains its own).
        if (req.listenerCount('readable') === 0) req.resume();
        const refusal =
          err instanceof S3Refusal
            ? err
            : new S3Refusal(500, 'InternalError', 'We encountered an internal error. Please try again.');
        sendS3Error(res, req.method, refusal);
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
