import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError, hashApiKey, keyIdOf, LOCAL_DEV_KEY_FILE } from '@obelm/core';
import { createKey, getKey, type TenantStore } from '@obelm/store';

export interface DevKey {
  key: string;
  keyId: string;
  /** The file it is kept in. */
  file: string;
  /** Why a new key replaced the one the file held (it was of the old format, revoked, or another tenant's). */
  replaced?: string;
}

/**
 * The dev tenant's API key: given explicitly (OBELM_DEV_API_KEY), else the one kept in the data folder, else a new
 * one kept there. Its item is seeded when missing (a fresh table, a key given on the command line), so a start is
 * idempotent. A kept key that can no longer be used is replaced by a new one; an explicit one is refused.
 */
export async function ensureDevKey(
  store: TenantStore,
  dataDir: string,
  tenant: string,
  explicit?: string,
): Promise<DevKey> {
  const file = join(dataDir, LOCAL_DEV_KEY_FILE);
  const kept = explicit ?? (existsSync(file) ? readFileSync(file, 'utf8').trim() : undefined);
  let replaced: string | undefined;
  if (kept) {
    const keyId = keyIdOf(kept);
    const unusable = keyId ? await unusableBecause(store, keyId, kept, tenant) : 'of the old format';
    if (!unusable) return { key: kept, keyId: keyId!, file };
    if (explicit) throw new ConfigError(`OBELM_DEV_API_KEY cannot be used: it is ${unusable}`);
    replaced = unusable;
  }
  const { key, keyId } = await createKey(store, tenant);
  writeFileSync(file, `${key}\n`, { mode: 0o600 });
  chmodSync(file, 0o600);
  return { key, keyId, file, ...(replaced ? { replaced } : {}) };
}

/** Why `key` cannot be the dev key (undefined: it can, its item seeded if it was missing). */
async function unusableBecause(
  store: TenantStore,
  keyId: string,
  key: string,
  tenant: string,
): Promise<string | undefined> {
  const item = await getKey(store, keyId);
  if (!item) {
    await createKey(store, tenant, key);
    return undefined;
  }
  if (item.secretHash !== hashApiKey(key)) return `not the key of item ${keyId}`;
  if (item.tenant !== tenant) return `a key of tenant ${item.tenant}`;
  if (item.status !== 'active') return 'revoked';
  return undefined;
}
