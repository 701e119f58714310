import { AUTH_CACHE_MS, effectiveLimits, type TenantItem, type TenantLimits } from '@obelm/core';
import {
  createKey,
  createTenant,
  getTenant,
  listKeys,
  revokeKey,
  setTenantLimits,
  setTenantStatus,
  TENANT_LIMIT_NAMES,
  TenantError,
  type TenantErrorCode,
} from '@obelm/store';
import { type Command, integerOption, oneArgument, type Values } from './command.ts';
import { CliError, EXIT } from './errors.ts';
import { table } from './format.ts';
import { note, print, printJson } from './output.ts';
import { localTarget, stageTarget, type Target } from './target.ts';

/**
 * `obelm admin ...`: tenants, their API keys and limits, on the running local stack (found through its data
 * folder) or, with `--stage <name>`, on a deployed stage with the environment's AWS credentials.
 */

const STAGE = { stage: { type: 'string' } } as const;
const JSON_OUTPUT = { json: { type: 'boolean' } } as const;
const TENANT = { tenant: { type: 'string' } } as const;

/** Runs `body` against the stage or the local stack; a store refusal becomes a one-line message. */
async function onTarget<T>(values: Values, body: (target: Target) => Promise<T>): Promise<T> {
  const target = typeof values['stage'] === 'string' ? await stageTarget(values['stage']) : localTarget();
  try {
    return await body(target);
  } catch (err) {
    if (err instanceof TenantError) throw new CliError(err.message, exitCodeOf(err.code));
    throw err;
  } finally {
    target.close();
  }
}

/** A value the operator typed wrong is a usage error; a state of the tenant that refuses the command, a failure. */
const exitCodeOf = (code: TenantErrorCode): number =>
  code === 'invalid_tenant' || code === 'invalid_limits' ? EXIT.usage : EXIT.failure;

const cacheSeconds = AUTH_CACHE_MS / 1000;

/** `requestsPerSecond` -> `requests-per-second`: the option of each limit. */
const optionOf = (limit: string) => limit.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
const LIMIT_OPTIONS = Object.fromEntries(
  TENANT_LIMIT_NAMES.map((name) => [optionOf(name), { type: 'string' as const }]),
);

const createTenantCommand: Command = {
  name: 'create-tenant',
  synopsis: '<tenant> [--stage <name>]',
  summary: 'creates an active tenant with the stage default limits',
  options: { ...STAGE, ...TENANT },
  run: async (values, positionals) => {
    const tenant = oneArgument(createTenantCommand, positionals, values['tenant']);
    return onTarget(values, async (target) => {
      await createTenant(target.store, tenant);
      print(`created tenant ${tenant} on ${target.name}`);
    });
  },
};

const createKeyCommand: Command = {
  name: 'create-key',
  synopsis: '--tenant <tenant> [--json] [--stage <name>]',
  summary: 'creates an API key and prints it, once (only its hash is kept)',
  options: { ...STAGE, ...TENANT, ...JSON_OUTPUT },
  run: async (values, positionals) => {
    const tenant = oneArgument(createKeyCommand, positionals, values['tenant']);
    return onTarget(values, async (target) => {
      const { keyId, key } = await createKey(target.store, tenant);
      if (values['json']) return printJson({ tenant, keyId, key });
      // The key alone on stdout, so `KEY=$(obelm admin create-key --tenant t)` works.
      print(key);
      note(`created key ${keyId} of tenant ${tenant} on ${target.name}; it is shown only this once`);
    });
  },
};

const listKeysCommand: Command = {
  name: 'list-keys',
  synopsis: '--tenant <tenant> [--json] [--stage <name>]',
  summary: "lists a tenant's keys, newest first (ids and status, never the keys)",
  options: { ...STAGE, ...TENANT, ...JSON_OUTPUT },
  run: async (values, positionals) => {
    const tenant = oneArgument(listKeysCommand, positionals, values['tenant']);
    return onTarget(values, async (target) => {
      if (!(await getTenant(target.store, tenant))) throw new CliError(`No tenant ${tenant}`);
      const keys = await listKeys(target.store, tenant);
      if (values['json']) return printJson(keys);
      if (!keys.length) return print(`tenant ${tenant} has no keys`);
      print(
        table([
          ['KEY ID', 'STATUS', 'CREATED', 'REVOKED'],
          ...keys.map((k) => [k.keyId, k.status, k.createdAt, k.revokedAt ?? '']),
        ]),
      );
    });
  },
};

const revokeKeyCommand: Command = {
  name: 'revoke-key',
  synopsis: '<keyId> [--stage <name>]',
  summary: `revokes a key: refused everywhere within ${cacheSeconds} s`,
  options: { ...STAGE },
  run: async (values, positionals) => {
    const keyId = oneArgument(revokeKeyCommand, positionals);
    return onTarget(values, async (target) => {
      const key = await revokeKey(target.store, keyId);
      print(
        `revoked key ${key.keyId} of tenant ${key.tenant} (at ${key.revokedAt}); ` +
          `the API refuses it everywhere within ${cacheSeconds} s`,
      );
    });
  },
};

const setLimitsCommand: Command = {
  name: 'set-limits',
  synopsis: `--tenant <tenant> ${TENANT_LIMIT_NAMES.map((n) => `[--${optionOf(n)} <n>]`).join(' ')} [--clear <limit>]... [--stage <name>]`,
  summary: "sets a tenant's own limits; --clear puts one back to the stage default",
  options: { ...STAGE, ...TENANT, ...LIMIT_OPTIONS, clear: { type: 'string', multiple: true } },
  run: async (values, positionals) => {
    const tenant = oneArgument(setLimitsCommand, positionals, values['tenant']);
    const set: Record<string, number> = {};
    for (const name of TENANT_LIMIT_NAMES) {
      const value = values[optionOf(name)];
      if (typeof value === 'string') set[name] = integerOption(optionOf(name), value);
    }
    // Either spelling: `--clear max-steps` or `--clear maxSteps`.
    const clear = ((values['clear'] as string[] | undefined) ?? []).map(
      (name) => TENANT_LIMIT_NAMES.find((limit) => optionOf(limit) === name) ?? name,
    );
    if (!Object.keys(set).length && !clear.length) {
      throw new CliError(`nothing to set: ${setLimitsCommand.name} ${setLimitsCommand.synopsis}`, EXIT.usage);
    }
    return onTarget(values, async (target) => {
      const item = await setTenantLimits(target.store, tenant, set, clear);
      print(`limits of tenant ${tenant} on ${target.name} (the API applies them within ${cacheSeconds} s):`);
      print(limitsTable(item, target.defaultLimits));
    });
  },
};

const statusCommand = (status: 'suspended' | 'active'): Command => {
  const command: Command = {
    name: status === 'suspended' ? 'suspend-tenant' : 'resume-tenant',
    synopsis: '<tenant> [--stage <name>]',
    summary:
      status === 'suspended'
        ? `suspends a tenant: each of its keys is refused within ${cacheSeconds} s`
        : 'lets a suspended tenant use its keys again',
    options: { ...STAGE, ...TENANT },
    run: async (values, positionals) => {
      const tenant = oneArgument(command, positionals, values['tenant']);
      return onTarget(values, async (target) => {
        await setTenantStatus(target.store, tenant, status);
        print(
          status === 'suspended'
            ? `suspended tenant ${tenant}: the API refuses its keys everywhere within ${cacheSeconds} s`
            : `resumed tenant ${tenant}`,
        );
      });
    },
  };
  return command;
};

const showTenantCommand: Command = {
  name: 'show-tenant',
  synopsis: '<tenant> [--json] [--stage <name>]',
  summary: 'status, limits (effective, and which the tenant overrides) and key count',
  options: { ...STAGE, ...TENANT, ...JSON_OUTPUT },
  run: async (values, positionals) => {
    const tenant = oneArgument(showTenantCommand, positionals, values['tenant']);
    return onTarget(values, async (target) => {
      const item = await getTenant(target.store, tenant);
      if (!item) throw new CliError(`No tenant ${tenant}`);
      const keys = await listKeys(target.store, tenant);
      const active = keys.filter((k) => k.status === 'active').length;
      const keyCount = { active, revoked: keys.length - active };
      if (values['json']) {
        return printJson({
          tenant: item.tenant,
          status: item.status,
          createdAt: item.createdAt,
          updatedAt: item.updatedAt,
          keys: keyCount,
          limits: {
            effective: effectiveLimits(target.defaultLimits, item),
            overridden: item.limits ?? {},
            stageDefaults: target.defaultLimits,
          },
        });
      }
      print(
        table([
          ['tenant', item.tenant],
          ['status', item.status],
          ['created', item.createdAt],
          ['updated', item.updatedAt],
          ['keys', `${keyCount.active} active, ${keyCount.revoked} revoked`],
        ]),
      );
      print('');
      print(limitsTable(item, target.defaultLimits));
    });
  },
};

/** Each limit's effective value and where it comes from (the tenant's own, or the stage default). */
function limitsTable(item: TenantItem, defaults: TenantLimits): string {
  const effective: Partial<Record<string, number>> = effectiveLimits(defaults, item);
  const own: Partial<Record<string, number>> = item.limits ?? {};
  return table(
    [
      ['LIMIT', 'VALUE', 'FROM'],
      ...TENANT_LIMIT_NAMES.map((name) => [
        name,
        effective[name] === undefined ? 'none' : String(effective[name]),
        own[name] === undefined ? 'stage default' : 'tenant',
      ]),
    ],
    [1],
  );
}

export const ADMIN_COMMANDS: readonly Command[] = [
  createTenantCommand,
  createKeyCommand,
  listKeysCommand,
  revokeKeyCommand,
  setLimitsCommand,
  statusCommand('suspended'),
  statusCommand('active'),
  showTenantCommand,
];
