import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WEBHOOK_SECRET_GRACE_MS } from '@obelm/core';
import { type LocalStack, startLocalStack } from '@obelm/local';
import {
  getTenant,
  rotateTenantWebhookSecret,
  signingSecrets,
  tenantWebhookSecret,
  type WebhookSecretStore,
} from '@obelm/store';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signatureHeaders } from '../../packages/api/src/webhooks/sign.ts';
import { addApiKey, call } from './helpers.ts';

/**
 * The tenant's webhook signing secret through the local stack: created once on first use (also when first calls
 * race), sealed at rest, rotated with a grace period during which deliveries carry both signatures, each of
 * which a receiver verifies with the `standardwebhooks` package.
 */

let stack: LocalStack;
let dataDir: string;
let store: WebhookSecretStore;
let n = 0;

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'obelm-webhook-secret-'));
  stack = await startLocalStack({ dataDir, port: 0, worker: false, sweepEverySeconds: 0 });
  store = stack.deps.store;
});
afterAll(async () => {
  await stack?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

/** A tenant of its own, with a key. */
async function newTenant(): Promise<{ tenant: string; key: string }> {
  const tenant = `hooks-${++n}`;
  return { tenant, key: await addApiKey(stack, tenant) };
}

const getSecret = (key: string) => call(stack, 'GET', '/v1/webhooks/secret', { key });
const rotate = (key: string) => call(stack, 'POST', '/v1/webhooks/secret/rotate', { key });

/** What a receiver does with a delivery signed by `secrets`: verify it with `secret`. */
function verifies(secret: string, secrets: string[]): boolean {
  const body = JSON.stringify({ type: 'job.succeeded', timestamp: new Date().toISOString(), data: {} });
  const headers = signatureHeaders(secrets, 'evt_job_1_succeeded', new Date(), body);
  try {
    new Webhook(secret).verify(body, headers);
    return true;
  } catch {
    return false;
  }
}

describe('GET /v1/webhooks/secret', () => {
  it('creates the secret on the first call and returns the same one after', async () => {
    const { tenant, key } = await newTenant();
    const first = await getSecret(key);
    expect(first.status).toBe(200);
    expect(first.headers.get('cache-control')).toBe('no-store');
    expect(first.body).toEqual({
      secret: expect.stringMatching(/^whsec_[A-Za-z0-9+/]{43}=$/),
      createdAt: expect.any(String),
    });
    expect(Buffer.from(first.body.secret.slice(6), 'base64')).toHaveLength(32);
    expect((await getSecret(key)).body).toEqual(first.body);

    // At rest: sealed with the stack's key, never the secret itself.
    const item = await getTenant(store, tenant);
    expect(item?.webhookSecrets).toHaveLength(1);
    expect(item?.webhookSecrets?.[0]?.sealed).toMatch(/^aes1:/);
    expect(JSON.stringify(item)).not.toContain(first.body.secret.slice(6));
  });

  it('ends with one secret when first calls race', async () => {
    const { tenant, key } = await newTenant();
    const replies = await Promise.all(Array.from({ length: 8 }, () => getSecret(key)));
    expect(replies.map((r) => r.status)).toEqual(Array(8).fill(200));
    expect(new Set(replies.map((r) => r.body.secret)).size).toBe(1);
    expect((await getTenant(store, tenant))?.webhookSecrets).toHaveLength(1);
  });

  it('needs an API key', async () => {
    expect((await call(stack, 'GET', '/v1/webhooks/secret', { key: null })).status).toBe(401);
  });
});

describe('POST /v1/webhooks/secret/rotate', () => {
  it('replaces the secret; the old one keeps signing for the grace period, and both verify', async () => {
    const { tenant, key } = await newTenant();
    const old = (await getSecret(key)).body.secret;
    const before = Date.now();
    const rotated = await rotate(key);
    expect(rotated.status).toBe(200);
    const { secret, previous } = rotated.body;
    expect(secret).toMatch(/^whsec_/);
    expect(secret).not.toBe(old);
    expect(previous.secret).toBe(old);
    const expiresIn = Date.parse(previous.expiresAt) - before;
    expect(expiresIn).toBeGreaterThan(WEBHOOK_SECRET_GRACE_MS - 60_000);
    expect(expiresIn).toBeLessThanOrEqual(WEBHOOK_SECRET_GRACE_MS + 60_000);
    expect((await getSecret(key)).body).toEqual(rotated.body);

    const secrets = await signingSecrets(store, stack.deps.sealer, tenant, new Date());
    expect(secrets).toEqual([secret, old]);
    const signature = signatureHeaders(secrets, 'evt_x', new Date(), '{}')['webhook-signature'];
    expect(signature).toMatch(/^v1,\S+ v1,\S+$/);
    expect(verifies(secret, secrets)).toBe(true);
    expect(verifies(old, secrets)).toBe(true);
    // Honest check: a receiver with a secret of its own verifies nothing.
    expect(verifies(`whsec_${Buffer.alloc(32, 7).toString('base64')}`, secrets)).toBe(false);
  });

  it('a second rotation within the grace stops the oldest secret at once', async () => {
    const { tenant, key } = await newTenant();
    const first = (await getSecret(key)).body.secret;
    const second = (await rotate(key)).body.secret;
    const third = await rotate(key);
    expect(third.body.previous.secret).toBe(second);
    const secrets = await signingSecrets(store, stack.deps.sealer, tenant, new Date());
    expect(secrets).toEqual([third.body.secret, second]);
    expect(verifies(first, secrets)).toBe(false);
    expect(verifies(second, secrets)).toBe(true);
    expect((await getTenant(store, tenant))?.webhookSecrets).toHaveLength(2);
  });

  it('after the grace only the current secret signs, and the next rotation drops the expired one', async () => {
    const { tenant, key } = await newTenant();
    const current = (await rotate(key)).body.secret; // before any GET: simply the first secret
    expect((await getSecret(key)).body.previous).toBeUndefined();
    const rotated = (await rotate(key)).body;
    expect(rotated.previous.secret).toBe(current);
    const later = new Date(Date.parse(rotated.previous.expiresAt) + 1);
    const sealer = stack.deps.sealer;
    expect(await signingSecrets(store, sealer, tenant, later)).toEqual([rotated.secret]);
    expect(await tenantWebhookSecret(store, sealer, tenant, later)).toEqual({
      secret: rotated.secret,
      createdAt: rotated.createdAt,
    });
    const next = await rotateTenantWebhookSecret(store, sealer, tenant, later);
    expect(next.previous?.secret).toBe(rotated.secret);
    expect(await signingSecrets(store, sealer, tenant, later)).toEqual([next.secret, rotated.secret]);
  });

  it('concurrent rotations each rotate: the last one written replaced the other', async () => {
    const { tenant, key } = await newTenant();
    const original = (await getSecret(key)).body.secret;
    const [a, b] = (await Promise.all([rotate(key), rotate(key)])).map((r) => r.body);
    const current = await getSecret(key);
    const [last, other] = current.body.secret === a.secret ? [a, b] : [b, a];
    expect(current.body.secret).toBe(last.secret);
    expect(last.previous.secret).toBe(other.secret);
    expect(other.previous.secret).toBe(original);
    expect((await getTenant(store, tenant))?.webhookSecrets).toHaveLength(2);
  });
});
