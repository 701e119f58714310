import { lookup } from 'node:dns/promises';
import http from 'node:http';
import https from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
import { ApiError, badRequest, WEBHOOK_LIMITS } from '@obelm/core';
import ipaddr from 'ipaddr.js';

/**
 * The SSRF guard of webhooks: a caller's URL makes our servers send requests, so it may only reach public
 * addresses. Checked when a job or batch is created (400 `invalid_webhook`) and again at every attempt, which
 * then connects to the very address it checked (no second DNS answer in between), follows no redirect and
 * reads a few KB of the answer at most, within short timeouts (core WEBHOOK_LIMITS).
 *
 * The local stack's OBELM_WEBHOOK_ALLOW_LOOPBACK lets a URL name an IPv4 loopback address literally
 * (`http://127.0.0.1:<port>`), over http too; names that resolve to loopback and `[::1]` stay refused.
 */

export type WebhookLimits = { readonly [K in keyof typeof WEBHOOK_LIMITS]: number };

/** A host name's addresses; the system resolver (both families) unless a test gives another. */
export type Resolver = (hostname: string) => Promise<string[]>;

export interface GuardOptions {
  /** OBELM_WEBHOOK_ALLOW_LOOPBACK: the local stack's receivers on 127.0.0.1. */
  allowLoopback: boolean;
  resolve?: Resolver;
}

export interface PostOptions extends GuardOptions {
  /** Tighter limits than core's (tests). */
  limits?: Partial<WebhookLimits>;
}

/** One attempt: the receiver's status, or why none came (timeout, refused connection, the guard). */
export interface PostResult {
  status?: number;
  error?: string;
  latencyMs: number;
}

/** `details.reason` of an `invalid_webhook`. */
export type GuardReason = 'invalid_url' | 'credentials' | 'scheme' | 'unresolvable' | 'blocked_address';

/** Refuses (400 `invalid_webhook`) a URL the guard would not deliver to. */
export async function checkWebhookUrl(url: string, opts: GuardOptions): Promise<void> {
  await checkedTarget(url, opts, WEBHOOK_LIMITS);
}

/**
 * POSTs `body` to a checked URL once. Never throws for what the receiver (or its DNS) does: a status, or an
 * error saying why there is none. A 3xx is returned with its status and not followed.
 */
export async function postWebhook(
  url: string,
  body: string,
  headers: Record<string, string>,
  opts: PostOptions,
): Promise<PostResult> {
  const limits: WebhookLimits = { ...WEBHOOK_LIMITS, ...opts.limits };
  const started = performance.now();
  const elapsed = () => Math.round(performance.now() - started);
  let target: Target;
  try {
    target = await checkedTarget(url, opts, limits);
  } catch (err) {
    if (err instanceof ApiError) return { error: `refused: ${err.message}`, latencyMs: elapsed() };
    throw err;
  }
  return send(target, body, headers, limits, elapsed);
}

/** A URL that passed the guard, and the address it connects to. */
interface Target {
  url: URL;
  /** Without the brackets of an IPv6 literal. */
  hostname: string;
  address: string;
  family: 4 | 6;
}

const refused = (reason: GuardReason, message: string, details: object = {}) =>
  badRequest('invalid_webhook', message, { field: 'webhook.url', reason, ...details });

async function checkedTarget(raw: string, opts: GuardOptions, limits: WebhookLimits): Promise<Target> {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw refused('invalid_url', 'webhook.url is not a URL');
  }
  if (url.username || url.password) {
    throw refused('credentials', 'webhook.url may not carry credentials (user:password@)');
  }
  // The URL parser already canonicalized IP literals (0x7f.1 -> 127.0.0.1, [::ffff:127.0.0.1] -> [::ffff:7f00:1]).
  const hostname = url.hostname.replace(/^\[(.*)\]$/, '$1');
  const localReceiver = opts.allowLoopback && isIP(hostname) === 4 && rangeOf(hostname) === 'loopback';
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && localReceiver)) {
    throw refused(
      'scheme',
      `webhook.url must be https${opts.allowLoopback ? ' (or http to 127.0.0.1 on the local stack)' : ''}`,
      { scheme: url.protocol.replace(/:$/, '') },
    );
  }
  const addresses = isIP(hostname) ? [hostname] : await resolveAll(hostname, opts.resolve, limits);
  for (const address of addresses) {
    const range = rangeOf(address);
    if (range === 'unicast' || (localReceiver && range === 'loopback')) continue;
    const named = address === hostname ? address : `${hostname} (${address})`;
    throw refused(
      'blocked_address',
      `webhook.url names ${named}, a ${range} address: only public addresses are allowed`,
      { address, range },
    );
  }
  const [address] = addresses as [string];
  return { url, hostname, address, family: isIP(address) === 6 ? 6 : 4 };
}

const systemResolver: Resolver = async (hostname) =>
  (await lookup(hostname, { all: true, verbatim: true })).map((a) => a.address);

/** Every address of a name (all must pass); a name that does not resolve in time is refused. */
async function resolveAll(
  hostname: string,
  resolve: Resolver = systemResolver,
  limits: WebhookLimits,
): Promise<string[]> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('no answer in time')), limits.connectTimeoutMs);
  });
  try {
    const addresses = await Promise.race([resolve(hostname), timeout]);
    if (addresses.length === 0) throw new Error('no address');
    return addresses;
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    throw refused('unresolvable', `webhook.url's host ${hostname} does not resolve (${why})`, { hostname });
  } finally {
    clearTimeout(timer);
  }
}

/** IPv6's global unicast block: anything else (IPv4-compatible ::a.b.c.d, ...) is no receiver's address. */
const GLOBAL_UNICAST_V6 = ipaddr.parseCIDR('2000::/3');

/**
 * ipaddr.js's range of an address, IPv4-mapped IPv6 judged as the IPv4 address it maps; only 'unicast' is
 * public. Its other ranges (private, loopback, linkLocal, carrierGradeNat, uniqueLocal, multicast,
 * unspecified, broadcast, reserved, 6to4, teredo, NAT64's rfc6052...) can all reach or embed private space.
 */
function rangeOf(address: string): string {
  if (!ipaddr.isValid(address)) return 'invalid';
  const ip = ipaddr.process(address);
  const range = ip.range();
  if (range === 'unicast' && ip.kind() === 'ipv6' && !ip.match(GLOBAL_UNICAST_V6)) return 'reserved';
  return range;
}

/** The connection's DNS answer: the address the guard checked, whatever the name resolves to by now. */
const pinnedLookup =
  (address: string, family: 4 | 6): LookupFunction =>
  (_hostname, options, callback) => {
    if (options.all) callback(null, [{ address, family }]);
    else callback(null, address, family);
  };

function send(
  { url, hostname, address, family }: Target,
  body: string,
  headers: Record<string, string>,
  limits: WebhookLimits,
  elapsed: () => number,
): Promise<PostResult> {
  return new Promise((resolve) => {
    const timers: NodeJS.Timeout[] = [];
    /** Set once the status line came: later faults (a slow or endless body) do not undo it. */
    let answered: PostResult | undefined;
    let settled = false;
    const finish = (result: PostResult) => {
      if (settled) return;
      settled = true;
      for (const timer of timers) clearTimeout(timer);
      req.destroy();
      resolve(result);
    };
    const fail = (error: string) => finish(answered ?? { error, latencyMs: elapsed() });

    const request = url.protocol === 'https:' ? https.request : http.request;
    const req = request(
      {
        hostname,
        port: url.port || undefined,
        path: `${url.pathname}${url.search}`,
        method: 'POST',
        // A fresh connection per attempt: a pooled one may lead to an address this attempt did not check.
        agent: false,
        lookup: pinnedLookup(address, family),
        // TLS checks the certificate against the name (SNI too), not against the address connected to.
        ...(isIP(hostname) ? {} : { servername: hostname }),
        headers: {
          ...headers,
          'content-type': 'application/json',
          'user-agent': 'obelm-webhooks',
          'content-length': String(Buffer.byteLength(body)),
        },
      },
      (res) => {
        const status = res.statusCode ?? 0;
        const result: PostResult = {
          status,
          latencyMs: elapsed(),
          ...(status >= 300 && status < 400 ? { error: `redirect (${status}) not followed` } : {}),
        };
        answered = result;
        // The answer's body is read only to end the exchange cleanly, and never past the limit.
        let read = 0;
        res.on('data', (chunk: Buffer) => {
          read += chunk.length;
          if (read >= limits.maxResponseBytes) finish(result);
        });
        res.on('end', () => finish(result));
        res.on('error', () => finish(result));
      },
    );
    timers.push(
      setTimeout(() => fail(`no answer within ${limits.totalTimeoutMs} ms`), limits.totalTimeoutMs),
    );
    req.on('socket', (socket) => {
      const connect = setTimeout(
        () => fail(`no connection within ${limits.connectTimeoutMs} ms`),
        limits.connectTimeoutMs,
      );
      timers.push(connect);
      socket.once('connect', () => clearTimeout(connect));
    });
    req.on('error', (err) => fail(err.message));
    req.end(body);
  });
}
