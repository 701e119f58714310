import { WEBHOOK_SECRET_CONTEXT } from '@obelm/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { type GrantName, grants, HANDLER_GRANTS, WORKER_GRANTS } from '../../infra/access.ts';
import { FAKE_ARNS } from './fakeArns.ts';
import { allowing, type RecordedCall, requestsOf, resolveGrants } from './iam.ts';
import { one, type Recorded, recordResources, settle } from './pulumiMocks.ts';

let recorded: Recorded[];

beforeAll(async () => {
  recorded = await recordResources();
  const { WebhookSecretsKey } = await import('../../infra/secrets.ts');
  new WebhookSecretsKey('Kept', { protect: true });
  new WebhookSecretsKey('Disposable', { protect: false });
  await settle();
});

describe('the webhook secrets key', () => {
  it('is a symmetric key with yearly automatic rotation', () => {
    expect(one(recorded, 'aws:kms/key:Key', 'Kept').inputs).toMatchObject({
      keyUsage: 'ENCRYPT_DECRYPT',
      customerMasterKeySpec: 'SYMMETRIC_DEFAULT',
      enableKeyRotation: true,
      rotationPeriodInDays: 365,
    });
  });

  it('waits the longest before deletion on a protected stage, the shortest on a disposable one', () => {
    expect(one(recorded, 'aws:kms/key:Key', 'Kept').inputs.deletionWindowInDays).toBe(30);
    expect(one(recorded, 'aws:kms/key:Key', 'Disposable').inputs.deletionWindowInDays).toBe(7);
  });
});

describe('who may use the key', () => {
  const all = grants(FAKE_ARNS);
  const kmsGrants = (names: readonly GrantName[]) =>
    names.filter((name) => all[name].actions.some((action) => action.startsWith('kms:')));

  it('lets only the secret routes and the dispatcher seal or open, and never the worker', () => {
    const holders = Object.entries(HANDLER_GRANTS)
      .filter(([, names]) => kmsGrants(names).length > 0)
      .map(([name]) => name)
      .sort();
    expect(holders).toEqual(['getWebhookSecret', 'rotateWebhookSecret', 'webhookDispatcher']);
    expect(kmsGrants(WORKER_GRANTS)).toEqual([]);
  });

  it('allows Encrypt and Decrypt on this key only, each for the webhook secret purpose only', async () => {
    const names = {
      bucket: 'bkt',
      bucketArn: FAKE_ARNS.bucketArn,
      table: 'tbl',
      tableArn: FAKE_ARNS.tableArn,
      queues: {},
      keys: {
        [FAKE_ARNS.webhookSecretsKeyArn]: FAKE_ARNS.webhookSecretsKeyArn,
        other: 'arn:aws:kms:r:a:key/other',
      },
    };
    const own = await resolveGrants(all, HANDLER_GRANTS.rotateWebhookSecret);
    const allowed = (call: Omit<RecordedCall, 'fn'>) =>
      requestsOf({ fn: 'rotateWebhookSecret', ...call }, names).map(
        (request) => allowing(own, request)?.name,
      );
    const ours = { keyId: FAKE_ARNS.webhookSecretsKeyArn, encryptionContext: { ...WEBHOOK_SECRET_CONTEXT } };
    expect(allowed({ command: 'EncryptCommand', ...ours })).toEqual(['kmsSeal']);
    expect(allowed({ command: 'DecryptCommand', ...ours })).toEqual(['kmsOpen']);
    // Another purpose, none, or another key: refused.
    expect(
      allowed({ command: 'DecryptCommand', ...ours, encryptionContext: { purpose: 'something-else' } }),
    ).toEqual([undefined]);
    expect(allowed({ command: 'EncryptCommand', keyId: FAKE_ARNS.webhookSecretsKeyArn })).toEqual([
      undefined,
    ]);
    expect(allowed({ command: 'EncryptCommand', ...ours, keyId: 'other' })).toEqual([undefined]);
  });
});
