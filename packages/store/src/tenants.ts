import { GetCommand, PutCommand, paginateQuery, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import {
  type ApiKeyItem,
  CodedError,
  dbKeys,
  effectiveLimits,
  GSI1,
  hashApiKey,
  isConditionFailed,
  keyIdOf,
  newApiKey,
  TenantIdSchema,
  type TenantItem,
  type TenantLimits,
  type TenantLimitsOverride,
  TenantLimitsOverrideSchema,
  TenantLimitsSchema,
  type TenantStatus,
} from '@obelm/core';
import type { StoreContext } from './context.ts';

/**
 * Tenant items and their API keys (core tenants.ts): the reads of the API's auth and of the store, and the writes
 * of `obelm admin`. Every write is conditional, so a command never creates what it meant to change.
 */

/** What tenant and key functions need of the store: the table, and the clock of their timestamps. */
export type TenantStore = Pick<StoreContext, 'db' | 'table' | 'now'>;

export type TenantErrorCode =
  | 'invalid_tenant'
  | 'tenant_exists'
  | 'tenant_not_found'
  | 'tenant_suspended'
  | 'key_not_found'
  | 'invalid_limits';

/** What an admin command did wrong, in words for the operator (`details`: the values at fault). */
export class TenantError extends CodedError<TenantErrorCode> {
  override readonly name = 'TenantError';
}

/** An API key as listings show it: never its hash. */
export type ApiKeySummary = Omit<ApiKeyItem, 'secretHash'>;

/** The limit names `set-limits` knows. */
export const TENANT_LIMIT_NAMES = Object.keys(TenantLimitsSchema.shape) as (keyof TenantLimits)[];

export async function getTenant(
  ctx: Pick<StoreContext, 'db' | 'table'>,
  tenant: string,
): Promise<TenantItem | undefined> {
  const { Item } = await ctx.db.send(
    new GetCommand({ TableName: ctx.table, Key: dbKeys.tenant(tenant), ConsistentRead: true }),
  );
  return Item as TenantItem | undefined;
}

/** A tenant's limits now: its overrides over the stage's defaults (a tenant without an item gets the defaults). */
export async function tenantLimits(ctx: StoreContext, tenant: string): Promise<TenantLimits> {
  return effectiveLimits(ctx.defaultLimits, await getTenant(ctx, tenant));
}

/** Creates an active tenant with no overrides; refuses an id that is taken. */
export async function createTenant(ctx: TenantStore, tenant: string): Promise<TenantItem> {
  if (!TenantIdSchema.safeParse(tenant).success) {
    throw new TenantError('invalid_tenant', `Tenant ids are 1-64 of A-Z a-z 0-9 _ -, not '${tenant}'`, {
      details: { tenant },
    });
  }
  const at = ctx.now().toISOString();
  const item: TenantItem = { tenant, status: 'active', createdAt: at, updatedAt: at };
  try {
    await ctx.db.send(
      new PutCommand({
        TableName: ctx.table,
        Item: { ...dbKeys.tenant(tenant), ...item },
        ConditionExpression: 'attribute_not_exists(pk)',
      }),
    );
  } catch (err) {
    if (isConditionFailed(err)) {
      throw new TenantError('tenant_exists', `Tenant ${tenant} already exists`, { details: { tenant } });
    }
    throw err;
  }
  return item;
}

const tenantNotFound = (tenant: string) =>
  new TenantError('tenant_not_found', `No tenant ${tenant}`, { details: { tenant } });

/** Suspends (every key refused within core's AUTH_CACHE_MS) or resumes a tenant. */
export async function setTenantStatus(
  ctx: TenantStore,
  tenant: string,
  status: TenantStatus,
): Promise<TenantItem> {
  try {
    const out = await ctx.db.send(
      new UpdateCommand({
        TableName: ctx.table,
        Key: dbKeys.tenant(tenant),
        UpdateExpression: 'SET #status = :status, updatedAt = :at',
        ConditionExpression: 'attribute_exists(pk)',
        ExpressionAttributeNames: { '#status': 'status' },
        ExpressionAttributeValues: { ':status': status, ':at': ctx.now().toISOString() },
        ReturnValues: 'ALL_NEW',
      }),
    );
    return out.Attributes as TenantItem;
  } catch (err) {
    if (isConditionFailed(err)) throw tenantNotFound(tenant);
    throw err;
  }
}

/**
 * Sets some of a tenant's limit overrides and removes others (`clear`: back to the stage's default). The
 * result is validated as a whole, and written only if the item has not changed since it was read.
 */
export async function setTenantLimits(
  ctx: TenantStore,
  tenant: string,
  set: TenantLimitsOverride,
  clear: readonly string[] = [],
): Promise<TenantItem> {
  const parsed = TenantLimitsOverrideSchema.safeParse(set);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.') || 'limits'}: ${i.message}`);
    throw new TenantError('invalid_limits', `Invalid limits: ${issues.join('; ')}`, { details: { issues } });
  }
  const unknown = clear.filter((name) => !(TENANT_LIMIT_NAMES as string[]).includes(name));
  const both = clear.filter((name) => name in parsed.data);
  if (unknown.length || both.length) {
    const message = unknown.length
      ? `Unknown limit ${unknown.join(', ')} (known: ${TENANT_LIMIT_NAMES.join(', ')})`
      : `Limit ${both.join(', ')} both set and cleared`;
    throw new TenantError('invalid_limits', message, { details: { unknown, both } });
  }
  const current = await getTenant(ctx, tenant);
  if (!current) throw tenantNotFound(tenant);
  const limits: Record<string, unknown> = { ...current.limits, ...parsed.data };
  for (const name of clear) delete limits[name];
  try {
    const out = await ctx.db.send(
      new UpdateCommand({
        TableName: ctx.table,
        Key: dbKeys.tenant(tenant),
        UpdateExpression: 'SET limits = :limits, updatedAt = :at',
        ConditionExpression: 'updatedAt = :read',
        ExpressionAttributeValues: {
          ':limits': limits,
          ':at': ctx.now().toISOString(),
          ':read': current.updatedAt,
        },
        ReturnValues: 'ALL_NEW',
      }),
    );
    return out.Attributes as TenantItem;
  } catch (err) {
    // Another admin changed the tenant in between: merge into what they wrote.
    if (isConditionFailed(err)) return setTenantLimits(ctx, tenant, set, clear);
    throw err;
  }
}

/**
 * A new API key of an active tenant: only its hash is stored. `key` seeds a given key instead (the local
 * stack's dev key, kept in its data folder); it must be of core's format.
 */
export async function createKey(
  ctx: TenantStore,
  tenant: string,
  key?: string,
): Promise<{ keyId: string; key: string }> {
  const item = await getTenant(ctx, tenant);
  if (!item) throw tenantNotFound(tenant);
  if (item.status !== 'active') {
    throw new TenantError('tenant_suspended', `Tenant ${tenant} is suspended: resume it first`, {
      details: { tenant },
    });
  }
  const created = key === undefined ? newApiKey() : { keyId: keyIdOf(key), key };
  if (!created.keyId) throw new TypeError('not an API key of the obelm_<keyId>_<secret> format');
  const createdAt = ctx.now().toISOString();
  const apiKey: ApiKeyItem = {
    keyId: created.keyId,
    tenant,
    secretHash: hashApiKey(created.key),
    status: 'active',
    createdAt,
  };
  await ctx.db.send(
    new PutCommand({
      TableName: ctx.table,
      Item: {
        ...dbKeys.apiKey(created.keyId),
        ...dbKeys.keyByTenant(tenant, createdAt, created.keyId),
        ...apiKey,
      },
      // Twelve random characters make a collision all but impossible; never overwrite a key if one happens.
      ConditionExpression: 'attribute_not_exists(pk)',
    }),
  );
  return { keyId: created.keyId, key: created.key };
}

/** A key's item, with its hash (the auth middleware compares it); undefined when there is none. */
export async function getKey(
  ctx: Pick<StoreContext, 'db' | 'table'>,
  keyId: string,
): Promise<ApiKeyItem | undefined> {
  const { Item } = await ctx.db.send(
    new GetCommand({ TableName: ctx.table, Key: dbKeys.apiKey(keyId), ConsistentRead: true }),
  );
  return Item as ApiKeyItem | undefined;
}

/** A tenant's keys, newest first, active and revoked; never their hashes. */
export async function listKeys(
  ctx: Pick<StoreContext, 'db' | 'table'>,
  tenant: string,
): Promise<ApiKeySummary[]> {
  const keys: ApiKeySummary[] = [];
  const pages = paginateQuery(
    { client: ctx.db },
    {
      TableName: ctx.table,
      IndexName: GSI1,
      KeyConditionExpression: 'gsi1pk = :pk',
      ExpressionAttributeValues: { ':pk': dbKeys.tenantKeysPartition(tenant) },
      ProjectionExpression: 'keyId, tenant, #status, createdAt, revokedAt',
      ExpressionAttributeNames: { '#status': 'status' },
      ScanIndexForward: false,
    },
  );
  for await (const page of pages) keys.push(...((page.Items ?? []) as ApiKeySummary[]));
  return keys;
}

/** Revokes a key (refused everywhere within core's AUTH_CACHE_MS); revoking a revoked key changes nothing. */
export async function revokeKey(ctx: TenantStore, keyId: string): Promise<ApiKeySummary> {
  try {
    const out = await ctx.db.send(
      new UpdateCommand({
        TableName: ctx.table,
        Key: dbKeys.apiKey(keyId),
        UpdateExpression: 'SET #status = :revoked, revokedAt = :at',
        ConditionExpression: '#status = :active',
        ExpressionAttributeNames: { '#status': 'status' },
        ExpressionAttributeValues: {
          ':revoked': 'revoked',
          ':active': 'active',
          ':at': ctx.now().toISOString(),
        },
        ReturnValues: 'ALL_NEW',
      }),
    );
    return summary(out.Attributes as ApiKeyItem);
  } catch (err) {
    if (!isConditionFailed(err)) throw err;
  }
  const item = await getKey(ctx, keyId);
  if (!item) throw new TenantError('key_not_found', `No API key ${keyId}`, { details: { keyId } });
  return summary(item);
}

const summary = ({ keyId, tenant, status, createdAt, revokedAt }: ApiKeyItem): ApiKeySummary => ({
  keyId,
  tenant,
  status,
  createdAt,
  ...(revokedAt ? { revokedAt } : {}),
});
