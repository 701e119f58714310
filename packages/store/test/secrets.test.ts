import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { KMSClient } from '@aws-sdk/client-kms';
import { ConfigError, WEBHOOK_SECRET_CONTEXT } from '@obelm/core';
import { sealerFor } from '@obelm/store';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * Sealing secrets at rest: AES-256-GCM with the local key (round trip, a fresh nonce each time, any change
 * refused), and KMS through the SDK against a stand-in speaking KMS's JSON protocol on 127.0.0.1 (the key and
 * the encryption context on every call).
 */

const localKey = () => randomBytes(32).toString('hex');
const SECRET = `whsec_${randomBytes(32).toString('base64')}`;

describe('local key (AES-256-GCM)', () => {
  const sealer = sealerFor({ OBELM_SECRETS_KEY: localKey() });

  it('opens what it sealed; the sealed value never shows the secret', async () => {
    const sealed = await sealer.seal(SECRET);
    expect(sealed).toMatch(/^aes1:[\w-]+:[\w-]+:[\w-]+$/);
    expect(sealed).not.toContain(SECRET.slice(6, 20));
    expect(await sealer.open(sealed)).toBe(SECRET);
  });

  it('seals the same secret differently each time (a fresh nonce)', async () => {
    const [a, b] = [await sealer.seal(SECRET), await sealer.seal(SECRET)];
    expect(a).not.toBe(b);
    expect(a.split(':')[1]).not.toBe(b.split(':')[1]);
  });

  it('refuses a sealed value with any part changed', async () => {
    const sealed = await sealer.seal(SECRET);
    for (const part of [1, 2, 3]) {
      const parts = sealed.split(':');
      const bytes = Buffer.from(parts[part]!, 'base64url');
      bytes[0]! ^= 1;
      parts[part] = bytes.toString('base64url');
      await expect(sealer.open(parts.join(':')), `part ${part}`).rejects.toThrow();
    }
  });

  it('refuses a value sealed with another key, or of another format', async () => {
    const other = sealerFor({ OBELM_SECRETS_KEY: localKey() });
    await expect(other.open(await sealer.seal(SECRET))).rejects.toThrow(/authenticate/);
    await expect(sealer.open(`kms1:${Buffer.from('x').toString('base64url')}`)).rejects.toThrow(/aes1/);
    await expect(sealer.open(SECRET)).rejects.toThrow(/format/);
  });
});

describe('configuration', () => {
  it('needs exactly one of the KMS key and the local key', () => {
    expect(() => sealerFor({})).toThrow(ConfigError);
    expect(() => sealerFor({ OBELM_KMS_KEY_ID: 'alias/k', OBELM_SECRETS_KEY: localKey() })).toThrow(
      ConfigError,
    );
  });
});

/** A KMS stand-in: JSON 1.1 protocol, "ciphertext" = the key, context and plaintext it was given, in base64. */
interface KmsCall {
  target: string;
  body: Record<string, unknown>;
}
let server: Server;
let kms: KMSClient;
const calls: KmsCall[] = [];
const KEY_ID = 'arn:aws:kms:us-east-1:111122223333:key/test';

beforeAll(async () => {
  server = createServer((req, res) => {
    let text = '';
    req.on('data', (chunk) => (text += chunk));
    req.on('end', () => {
      const target = String(req.headers['x-amz-target']);
      const body = JSON.parse(text) as Record<string, unknown>;
      calls.push({ target, body });
      const reply = (status: number, out: object) =>
        res.writeHead(status, { 'content-type': 'application/x-amz-json-1.1' }).end(JSON.stringify(out));
      if (target === 'TrentService.Encrypt') {
        const blob = { key: body['KeyId'], context: body['EncryptionContext'], plain: body['Plaintext'] };
        reply(200, { KeyId: KEY_ID, CiphertextBlob: Buffer.from(JSON.stringify(blob)).toString('base64') });
        return;
      }
      const blob = JSON.parse(Buffer.from(String(body['CiphertextBlob']), 'base64').toString());
      const same = JSON.stringify(blob.context) === JSON.stringify(body['EncryptionContext']);
      if (target !== 'TrentService.Decrypt' || !same || blob.key !== body['KeyId']) {
        reply(400, { __type: 'InvalidCiphertextException', message: 'no' });
        return;
      }
      reply(200, { KeyId: KEY_ID, Plaintext: blob.plain });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  kms = new KMSClient({
    region: 'us-east-1',
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    maxAttempts: 1,
  });
});
afterAll(async () => {
  kms?.destroy();
  await new Promise((resolve) => server?.close(resolve));
});

describe('KMS', () => {
  it('encrypts and decrypts with the stage key and the webhook-secret context', async () => {
    const sealer = sealerFor({ OBELM_KMS_KEY_ID: KEY_ID }, kms);
    calls.length = 0;
    const sealed = await sealer.seal(SECRET);
    expect(sealed).toMatch(/^kms1:[\w-]+$/);
    expect(await sealer.open(sealed)).toBe(SECRET);
    expect(calls.map((c) => c.target)).toEqual(['TrentService.Encrypt', 'TrentService.Decrypt']);
    for (const { body } of calls) {
      expect(body['KeyId']).toBe(KEY_ID);
      expect(body['EncryptionContext']).toEqual(WEBHOOK_SECRET_CONTEXT);
    }
    expect(Buffer.from(String(calls[0]!.body['Plaintext']), 'base64').toString()).toBe(SECRET);
  });

  it("passes KMS's refusal on, and refuses a locally sealed value without calling KMS", async () => {
    const sealer = sealerFor({ OBELM_KMS_KEY_ID: KEY_ID }, kms);
    const other = sealerFor({ OBELM_KMS_KEY_ID: 'arn:aws:kms:us-east-1:111122223333:key/other' }, kms);
    await expect(other.open(await sealer.seal(SECRET))).rejects.toMatchObject({
      name: 'InvalidCiphertextException',
    });
    calls.length = 0;
    const local = await sealerFor({ OBELM_SECRETS_KEY: localKey() }).seal(SECRET);
    await expect(sealer.open(local)).rejects.toThrow(/kms1/);
    expect(calls).toEqual([]);
  });
});
