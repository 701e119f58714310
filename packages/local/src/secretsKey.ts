import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError } from '@obelm/core';

/** The file in the data folder that keeps the local key sealing webhook signing secrets. */
export const SECRETS_KEY_FILE = 'secrets.key';

/**
 * The local stand-in for the cloud's KMS key (core config OBELM_SECRETS_KEY: 32 bytes, hex): created at the first
 * start and kept in the data folder, readable by this user only (like the dev key), so the secrets sealed with it
 * open after a restart.
 */
export function ensureSecretsKey(dataDir: string): string {
  const file = join(dataDir, SECRETS_KEY_FILE);
  if (existsSync(file)) {
    const kept = readFileSync(file, 'utf8').trim();
    // Replacing it would leave every stored secret sealed with a key that is gone.
    if (!/^[0-9a-f]{64}$/.test(kept)) throw new ConfigError(`${file} is not a 64-hex-digit key`);
    return kept;
  }
  const key = randomBytes(32).toString('hex');
  writeFileSync(file, `${key}\n`, { mode: 0o600 });
  chmodSync(file, 0o600);
  return key;
}
