import type * as pulumi from '@pulumi/pulumi';
import type { GrantName } from './access.ts';
import { InfraConfigError } from './errors.ts';

/**
 * Settings of the local stack and its tests that must never reach the cloud (packages/core/src/config.ts):
 * webhooks to 127.0.0.1 (a guard relaxed for a receiver on the developer's machine), the local key that seals
 * webhook secrets without KMS, and the tests' shortened webhook retry schedule.
 */
export const LOCAL_ONLY_SETTINGS = [
  'OBELM_WEBHOOK_ALLOW_LOOPBACK',
  'OBELM_SECRETS_KEY',
  'OBELM_WEBHOOK_RETRY_SCALE',
] as const;

export type Environment = Record<string, pulumi.Input<string>>;

/** Variables that name a resource only some functions may use, by the grant that uses it. */
export type GrantEnvironment = Partial<Record<GrantName, Environment>>;

/**
 * The environment of one function (a Lambda handler, the worker): the variables every function reads, plus
 * those that come with its grants (the KMS key only where the key may be used, the DLQ only where it may be
 * sent to). Every cloud function's environment is built here, so a local-only setting fails the deploy.
 */
export function functionEnvironment(
  shared: Environment,
  grantNames: readonly GrantName[],
  byGrant: GrantEnvironment,
): Environment {
  const environment = Object.assign(
    {},
    shared,
    ...grantNames.map((name) => byGrant[name] ?? {}),
  ) as Environment;
  const local = LOCAL_ONLY_SETTINGS.filter((name) => name in environment);
  if (local.length > 0) {
    throw new InfraConfigError(
      'local_only_setting',
      `${local.join(', ')}: local stack only, never in the cloud`,
    );
  }
  return environment;
}
