import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** The dev API key: given explicitly, else the one kept in the data folder, else a new one kept there. */
export function devApiKey(dataDir: string, explicit?: string): string {
  if (explicit) return explicit;
  const file = join(dataDir, 'dev-api-key');
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  const key = `obelm_dev_${randomBytes(24).toString('hex')}`;
  writeFileSync(file, `${key}\n`, { mode: 0o600 });
  return key;
}
