import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { DecryptCommand, EncryptCommand, KMSClient } from '@aws-sdk/client-kms';
import { ConfigError, type ServiceConfig, WEBHOOK_SECRET_CONTEXT } from '@obelm/core';

/**
 * Sealing of secrets at rest (the tenants' webhook signing secrets, webhookSecrets.ts): the table holds only
 * what `seal` returns. In the cloud a KMS key of the stage seals them (OBELM_KMS_KEY_ID); the local stack, which
 * has no KMS, uses AES-256-GCM with a key kept in its data folder (OBELM_SECRETS_KEY). A sealed value starts
 * with its format (`kms1:`, `aes1:`), so one sealed by the other kind is refused by name rather than garbled.
 */
export interface SecretSealer {
  seal(plain: string): Promise<string>;
  open(sealed: string): Promise<string>;
}

// Every seal and open names core's WEBHOOK_SECRET_CONTEXT: KMS's encryption context (the grants of
// infra/access.ts allow the key only with it, and CloudTrail records it) and, locally, the cipher's associated
// data. A sealed value opens only for the same purpose.

export type SealerConfig = Pick<ServiceConfig, 'OBELM_KMS_KEY_ID' | 'OBELM_SECRETS_KEY'>;

/** The sealer a stage is configured for: KMS in the cloud, the local key locally; neither is a config error. */
export function sealerFor(config: SealerConfig, kms?: KMSClient): SecretSealer {
  const keyId = config.OBELM_KMS_KEY_ID;
  const localKey = config.OBELM_SECRETS_KEY;
  if (keyId && localKey) {
    throw new ConfigError('Set OBELM_KMS_KEY_ID (cloud) or OBELM_SECRETS_KEY (local stack), not both');
  }
  if (keyId) return kmsSealer(kms ?? new KMSClient({}), keyId);
  if (localKey) return aesSealer(Buffer.from(localKey, 'hex'));
  throw new ConfigError(
    'Sealing webhook secrets needs OBELM_KMS_KEY_ID (cloud) or OBELM_SECRETS_KEY (local stack, 64 hex digits)',
  );
}

const KMS_FORMAT = 'kms1';
const AES_FORMAT = 'aes1';

const b64 = (bytes: Uint8Array): string => Buffer.from(bytes).toString('base64url');

/** The parts of a sealed value of `format`, or a clear error for any other value. */
function partsOf(sealed: string, format: string, count: number): Buffer[] {
  const [prefix, ...parts] = sealed.split(':');
  if (prefix !== format || parts.length !== count) {
    throw new TypeError(`not a sealed value of this stage's format ${format} (starts '${prefix}')`);
  }
  return parts.map((part) => Buffer.from(part, 'base64url'));
}

function kmsSealer(kms: KMSClient, keyId: string): SecretSealer {
  return {
    async seal(plain) {
      const out = await kms.send(
        new EncryptCommand({
          KeyId: keyId,
          Plaintext: Buffer.from(plain, 'utf8'),
          EncryptionContext: { ...WEBHOOK_SECRET_CONTEXT },
        }),
      );
      if (!out.CiphertextBlob) throw new Error('KMS Encrypt returned no ciphertext');
      return `${KMS_FORMAT}:${b64(out.CiphertextBlob)}`;
    },
    async open(sealed) {
      const [blob] = partsOf(sealed, KMS_FORMAT, 1);
      // Naming the key makes KMS refuse a ciphertext of any other key instead of opening it.
      const out = await kms.send(
        new DecryptCommand({
          KeyId: keyId,
          CiphertextBlob: blob,
          EncryptionContext: { ...WEBHOOK_SECRET_CONTEXT },
        }),
      );
      if (!out.Plaintext) throw new Error('KMS Decrypt returned no plaintext');
      return Buffer.from(out.Plaintext).toString('utf8');
    },
  };
}

/** GCM's recommended nonce size; a fresh random one per seal. */
const IV_BYTES = 12;
const AAD = Buffer.from(WEBHOOK_SECRET_CONTEXT.purpose, 'utf8');

function aesSealer(key: Buffer): SecretSealer {
  return {
    async seal(plain) {
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv('aes-256-gcm', key, iv).setAAD(AAD);
      const ciphertext = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
      return [AES_FORMAT, b64(iv), b64(cipher.getAuthTag()), b64(ciphertext)].join(':');
    },
    async open(sealed) {
      const [iv, tag, ciphertext] = partsOf(sealed, AES_FORMAT, 3) as [Buffer, Buffer, Buffer];
      // A tag of another length would weaken the check: accept only GCM's full 16 bytes.
      const decipher = createDecipheriv('aes-256-gcm', key, iv, { authTagLength: 16 }).setAAD(AAD);
      decipher.setAuthTag(tag);
      // final() throws when the tag does not match: a changed byte, another key, another purpose.
      return Buffer.concat([decipher.update(ciphertext), decipher.final()]).toString('utf8');
    },
  };
}
