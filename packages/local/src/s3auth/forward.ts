import { createReadStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import {
  type Agent,
  type ClientRequest,
  type IncomingMessage,
  request,
  type ServerResponse,
} from 'node:http';
import type { Admitted } from './admit.ts';
import { S3Refusal, sendS3Error } from './errors.ts';
import type { SpooledBody } from './payload.ts';

export interface Upstream {
  host: string;
  port: number;
  agent: Agent;
}

/**
 * Answer headers about s3rver's connection to the gateway, not the client's (RFC 9110 7.6.1): the gateway's own
 * server sets the client's (its keep-alive, not s3rver's).
 */
const HOP_BY_HOP = new Set(['connection', 'keep-alive']);

/**
 * Passes an admitted request to s3rver and its answer back, streaming both ways. The answer carries the gateway's
 * `cors` headers instead of any of s3rver's own, and none of its hop-by-hop ones.
 */
export function forward(
  req: IncomingMessage,
  res: ServerResponse,
  admitted: Admitted,
  upstream: Upstream,
  cors: Record<string, string>,
): void {
  const headers = { ...req.headers };
  if (admitted.body !== 'stream') {
    delete headers['transfer-encoding'];
    headers['content-length'] = String(
      admitted.body === 'buffered' ? admitted.bytes.length : sizeOf(admitted.spooled),
    );
  }
  if (admitted.body === 'buffered') headers['content-type'] = admitted.contentType;
  const out = request(
    {
      host: upstream.host,
      port: upstream.port,
      agent: upstream.agent,
      method: req.method,
      path: req.url,
      headers,
    },
    (answer) => {
      const headers = Object.fromEntries(
        Object.entries(answer.headers).filter(
          ([name]) => !name.startsWith('access-control-') && !HOP_BY_HOP.has(name),
        ),
      );
      res.writeHead(answer.statusCode ?? 502, { ...headers, ...cors });
      answer.pipe(res);
    },
  );
  out.on('error', () => {
    if (!res.headersSent)
      sendS3Error(
        res,
        req.method,
        new S3Refusal(503, 'ServiceUnavailable', 'Please reduce your request rate.'),
        cors,
      );
    else res.destroy();
  });
  // A client that goes away mid-upload aborts the upstream request too, rather than completing a short object.
  req.on('close', () => {
    if (!req.complete) out.destroy();
  });
  if (admitted.body === 'buffered') out.end(admitted.bytes);
  else if (admitted.body === 'spooled') sendSpooled(admitted.spooled, out);
  else req.pipe(out);
}

const sizeOf = (spooled: SpooledBody) => ('bytes' in spooled ? spooled.bytes.length : spooled.size);

/** A verified body to s3rver; a spool file is removed once sent. */
function sendSpooled(spooled: SpooledBody, out: ClientRequest): void {
  if ('bytes' in spooled) {
    out.end(spooled.bytes);
    return;
  }
  const { path } = spooled;
  out.on('close', () => void rm(path, { force: true }));
  createReadStream(path).pipe(out);
}
