import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type LambdaHandlerName, ServiceConfigSchema } from '@obelm/core';
import { describe, expect, it } from 'vitest';
import { HANDLER_GRANTS, WORKER_GRANTS } from '../../infra/access.ts';
import { functionEnvironment, type GrantEnvironment, LOCAL_ONLY_SETTINGS } from '../../infra/environment.ts';

// As stacks/index.ts builds them (values are placeholders).
const shared = { OBELM_STAGE: 'alice', OBELM_BUCKET: 'b', OBELM_WEBHOOKS_QUEUE_URL: 'https://sqs/webhooks' };
const byGrant: GrantEnvironment = {
  kmsSeal: { OBELM_KMS_KEY_ID: 'arn:aws:kms:r:a:key/k' },
  kmsOpen: { OBELM_KMS_KEY_ID: 'arn:aws:kms:r:a:key/k' },
  webhooksDlqSend: { OBELM_WEBHOOKS_DLQ_URL: 'https://sqs/webhooks-dlq' },
};
const handlers = Object.keys(HANDLER_GRANTS) as LambdaHandlerName[];
const environmentOf = (fn: LambdaHandlerName | 'worker') =>
  functionEnvironment(shared, fn === 'worker' ? WORKER_GRANTS : HANDLER_GRANTS[fn], byGrant);
const holders = (variable: string) =>
  [...handlers, 'worker' as const].filter((fn) => variable in environmentOf(fn)).sort();

describe('function environments', () => {
  it('tells only the functions that seal or open secrets which KMS key to use', () => {
    expect(holders('OBELM_KMS_KEY_ID')).toEqual([
      'getWebhookSecret',
      'rotateWebhookSecret',
      'webhookDispatcher',
    ]);
  });

  it('tells only the dispatcher where the webhooks DLQ is', () => {
    expect(holders('OBELM_WEBHOOKS_DLQ_URL')).toEqual(['webhookDispatcher']);
  });

  it('gives every function the shared variables', () => {
    for (const fn of [...handlers, 'worker' as const]) expect(environmentOf(fn)).toMatchObject(shared);
  });

  it('never sets the loopback allowance (nor any other local-only setting) in the cloud: the guard stays on', () => {
    for (const variable of LOCAL_ONLY_SETTINGS) expect(holders(variable)).toEqual([]);
    // The service's own default, which the cloud therefore runs with.
    expect(ServiceConfigSchema.shape.OBELM_WEBHOOK_ALLOW_LOOPBACK.parse(undefined)).toBe(false);
  });

  it('is named nowhere in the cloud program but in the guard itself', () => {
    const root = join(import.meta.dirname, '..', '..');
    const sources = ['infra', 'stacks'].flatMap((dir) =>
      readdirSync(join(root, dir))
        .filter((file) => file.endsWith('.ts') && !(dir === 'infra' && file === 'environment.ts'))
        .map((file) => join(dir, file)),
    );
    const naming = sources.filter((file) =>
      LOCAL_ONLY_SETTINGS.some((name) => readFileSync(join(root, file), 'utf8').includes(name)),
    );
    expect(sources.length).toBeGreaterThan(5);
    expect(naming).toEqual([]);
  });

  it('fails the deploy when a local-only setting reaches a function, shared or by grant', () => {
    expect(() =>
      functionEnvironment(
        { ...shared, OBELM_WEBHOOK_ALLOW_LOOPBACK: 'true' },
        HANDLER_GRANTS.createJob,
        byGrant,
      ),
    ).toThrow(expect.objectContaining({ code: 'local_only_setting' }));
    expect(() =>
      functionEnvironment(shared, WORKER_GRANTS, { ...byGrant, batchRead: { OBELM_SECRETS_KEY: '00' } }),
    ).toThrow(expect.objectContaining({ code: 'local_only_setting' }));
  });
});
