import { randomBytes } from 'node:crypto';
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import {
  dbKeys,
  isConditionFailed,
  type StoredWebhookSecret,
  WEBHOOK_SECRET_GRACE_MS,
  type WebhookSecretResponse,
} from '@obelm/core';
import type { StoreContext } from './context.ts';
import type { SecretSealer } from './secrets.ts';
import { getTenant, TenantError } from './tenants.ts';

/**
 * A tenant's webhook signing secrets, sealed on its item (`webhookSecrets`, core tenants.ts): the current one
 * first, then the one the last rotation replaced, which keeps signing until its `expiresAt` (core
 * WEBHOOK_SECRET_GRACE_MS). A second rotation within that grace drops the older one at once: at most two
 * secrets ever sign, the current one and the one it replaced. Every write is conditional on the secrets read,
 * so concurrent calls never leave a secret that was shown to one caller and overwritten by another.
 */

export type WebhookSecretStore = Pick<StoreContext, 'db' | 'table'>;

/** The format Standard Webhooks libraries expect: `whsec_` and the base64 of 32 random bytes. */
const newWebhookSecret = (): string => `whsec_${randomBytes(32).toString('base64')}`;

/** The tenant's secret (and the previous one while it still signs); the first call creates it. */
export async function tenantWebhookSecret(
  ctx: WebhookSecretStore,
  sealer: SecretSealer,
  tenant: string,
  now: Date,
): Promise<WebhookSecretResponse> {
  const stored = await storedSecrets(ctx, tenant);
  if (stored.length > 0) return openSecrets(sealer, stored, now);
  const first = await sealNew(sealer, now);
  if (await writeSecrets(ctx, tenant, [first], undefined, now)) return openSecrets(sealer, [first], now);
  // A concurrent first call stored its secret: answer that one (ours was never shown).
  return tenantWebhookSecret(ctx, sealer, tenant, now);
}

/**
 * Replaces the tenant's secret with a new one; the replaced one signs for WEBHOOK_SECRET_GRACE_MS more, and one
 * replaced earlier stops signing now. Before any secret exists this simply creates the first.
 */
export async function rotateTenantWebhookSecret(
  ctx: WebhookSecretStore,
  sealer: SecretSealer,
  tenant: string,
  now: Date,
): Promise<WebhookSecretResponse> {
  const [current] = await storedSecrets(ctx, tenant);
  const fresh = await sealNew(sealer, now);
  const expiresAt = new Date(now.getTime() + WEBHOOK_SECRET_GRACE_MS).toISOString();
  const secrets = current
    ? [fresh, { sealed: current.sealed, createdAt: current.createdAt, expiresAt }]
    : [fresh];
  if (await writeSecrets(ctx, tenant, secrets, current, now)) return openSecrets(sealer, secrets, now);
  // Another rotation (or the first use) changed them since the read: rotate what it wrote.
  return rotateTenantWebhookSecret(ctx, sealer, tenant, now);
}

/** The secrets that sign a delivery at `now`, current first (created on first use, like a GET). */
export async function signingSecrets(
  ctx: WebhookSecretStore,
  sealer: SecretSealer,
  tenant: string,
  now: Date,
): Promise<string[]> {
  const { secret, previous } = await tenantWebhookSecret(ctx, sealer, tenant, now);
  return previous ? [secret, previous.secret] : [secret];
}

async function storedSecrets(ctx: WebhookSecretStore, tenant: string): Promise<StoredWebhookSecret[]> {
  const item = await getTenant(ctx, tenant);
  if (!item) throw new TenantError('tenant_not_found', `No tenant ${tenant}`, { details: { tenant } });
  return item.webhookSecrets ?? [];
}

const sealNew = async (sealer: SecretSealer, now: Date): Promise<StoredWebhookSecret> => ({
  sealed: await sealer.seal(newWebhookSecret()),
  createdAt: now.toISOString(),
});

/** The current secret and, while it has not expired, the one it replaced, opened. */
async function openSecrets(
  sealer: SecretSealer,
  [current, previous]: StoredWebhookSecret[],
  now: Date,
): Promise<WebhookSecretResponse> {
  if (!current) throw new TypeError('no webhook secret to open');
  const live = previous?.expiresAt && Date.parse(previous.expiresAt) > now.getTime() ? previous : undefined;
  const [secret, old] = await Promise.all([sealer.open(current.sealed), live && sealer.open(live.sealed)]);
  return {
    secret,
    createdAt: current.createdAt,
    ...(live?.expiresAt && old ? { previous: { secret: old, expiresAt: live.expiresAt } } : {}),
  };
}

/**
 * Stores `secrets` if the tenant's current secret is still `read` (none: still no secret at all); false when
 * another call changed them first. A sealed value is unique (a random nonce, or KMS's), so it identifies the
 * list it heads.
 */
async function writeSecrets(
  ctx: WebhookSecretStore,
  tenant: string,
  secrets: StoredWebhookSecret[],
  read: StoredWebhookSecret | undefined,
  now: Date,
): Promise<boolean> {
  try {
    await ctx.db.send(
      new UpdateCommand({
        TableName: ctx.table,
        Key: dbKeys.tenant(tenant),
        UpdateExpression: 'SET webhookSecrets = :secrets, updatedAt = :at',
        ConditionExpression: read
          ? 'webhookSecrets[0].sealed = :read'
          : 'attribute_exists(pk) AND attribute_not_exists(webhookSecrets)',
        ExpressionAttributeValues: {
          ':secrets': secrets,
          ':at': now.toISOString(),
          ...(read ? { ':read': read.sealed } : {}),
        },
      }),
    );
    return true;
  } catch (err) {
    if (isConditionFailed(err)) return false;
    throw err;
  }
}
