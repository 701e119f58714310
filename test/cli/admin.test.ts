import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import {
  DEFAULT_TENANT_LIMITS,
  LOCAL_STACK_FILE,
  LocalStackFileSchema,
  stageParameters,
  UsageSchema,
} from '@obelm/core';
import { type LocalStack, startLocalStack } from '@obelm/local';
import { getKey, getTenant } from '@obelm/store';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fakeSsm, OBELM_BIN, obelm, obelmOk } from './helpers.ts';

/**
 * `obelm admin` as an operator runs it, in its own process, against a local stack found through its data folder:
 * what each command prints, what it stores, and its exit codes (0 done, 2 a command line it cannot run, 1 a
 * refusal or failure), each told in one line.
 */

let stack: LocalStack;
let dataDir: string;

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'obelm-cli-'));
  stack = await startLocalStack({ dataDir, port: 0, worker: false, sweepEverySeconds: 0 });
});
afterAll(async () => {
  await stack?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

const admin = (...args: string[]) => obelm(dataDir, ['admin', ...args]);
const adminOk = (...args: string[]) => obelmOk(dataDir, ['admin', ...args]);
/** The one line a failed command writes. */
const lines = (text: string) => text.trim().split('\n');

// Each test has tenants of its own, so the tests of a group run at once: the commands are processes that spend
// their time starting, and one waiting on the stack leaves the CPU to another.

describe('the discovery file', () => {
  it('describes the running stack, readable by its user only', () => {
    const file = join(dataDir, LOCAL_STACK_FILE);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const content = LocalStackFileSchema.parse(JSON.parse(readFileSync(file, 'utf8')));
    expect(content).toMatchObject({
      pid: process.pid,
      apiUrl: stack.apiUrl,
      table: stack.env['OBELM_TABLE'],
      bucket: stack.env['OBELM_BUCKET'],
      queues: { jobs: stack.env['OBELM_JOBS_QUEUE_URL'], webhooks: stack.env['OBELM_WEBHOOKS_QUEUE_URL'] },
      endpoints: { dynamodb: stack.env['AWS_ENDPOINT_URL_DYNAMODB'] },
      devTenant: 'dev',
    });
    expect(readFileSync(content.devKeyFile, 'utf8').trim()).toBe(stack.devKey);
    expect(content.tenantLimits).toEqual(stack.deps.config.OBELM_TENANT_LIMITS);
  });
});

describe.concurrent('obelm admin', () => {
  it('creates a tenant and keys: the key printed once, only its hash stored', async () => {
    expect(await adminOk('create-tenant', 'alpha')).toMatch(/^created tenant alpha on the local stack in /);
    const created = await obelm(dataDir, ['admin', 'create-key', '--tenant', 'alpha']);
    expect(created.code).toBe(0);
    const key = created.stdout.trim();
    expect(key).toMatch(/^obelm_key_[a-z0-9]{12}_[A-Za-z0-9_-]{43}$/);
    expect(created.stderr).toContain('shown only this once');
    const json = JSON.parse(await adminOk('create-key', '--tenant', 'alpha', '--json'));
    expect(Object.keys(json).sort()).toEqual(['key', 'keyId', 'tenant']);
    expect(json.tenant).toBe('alpha');
    expect(json.key.startsWith(`obelm_${json.keyId}_`)).toBe(true);

    const item = await getKey(stack.deps.store, json.keyId);
    expect(item).toMatchObject({ keyId: json.keyId, tenant: 'alpha', status: 'active' });
    expect(JSON.stringify(item)).not.toContain(json.key.slice(-43));

    // Newest first, and never a key or a hash.
    const [listedJson, text] = await Promise.all([
      adminOk('list-keys', '--tenant', 'alpha', '--json'),
      adminOk('list-keys', '--tenant', 'alpha'),
    ]);
    const listed = JSON.parse(listedJson);
    expect(listed.map((k: { keyId: string }) => k.keyId)).toEqual([json.keyId, key.slice(6, 22)]);
    for (const k of listed) expect(Object.keys(k).sort()).toEqual(['createdAt', 'keyId', 'status', 'tenant']);
    expect(lines(text)[0]).toMatch(/^KEY ID +STATUS +CREATED +REVOKED$/);
    expect(text).not.toContain(item!.secretHash);
    expect(text).not.toContain(json.key);
  });

  it('revokes a key once; a second revoke changes nothing', async () => {
    await adminOk('create-tenant', 'revoker');
    const { keyId } = JSON.parse(await adminOk('create-key', '--tenant', 'revoker', '--json'));
    expect(await adminOk('revoke-key', keyId)).toContain(`revoked key ${keyId} of tenant revoker`);
    const first = await getKey(stack.deps.store, keyId);
    await adminOk('revoke-key', keyId);
    expect((await getKey(stack.deps.store, keyId))?.revokedAt).toBe(first?.revokedAt);
    const listed = JSON.parse(await adminOk('list-keys', '--tenant', 'revoker', '--json'));
    expect(listed).toEqual([
      expect.objectContaining({ keyId, status: 'revoked', revokedAt: first?.revokedAt }),
    ]);
    const missing = await admin('revoke-key', 'key_000000000000');
    expect(missing.code).toBe(1);
    expect(lines(missing.stderr)).toEqual(['obelm: No API key key_000000000000']);
  });

  it('sets limits, shows them effective and overridden, and clears one back to the stage default', async () => {
    await adminOk('create-tenant', 'limited');
    const set = await adminOk(
      'set-limits',
      '--tenant',
      'limited',
      '--max-steps',
      '50',
      '--monthly-gpu-seconds',
      '3600',
    );
    expect(set).toMatch(/maxSteps +50 +tenant/);
    const shown = JSON.parse(await adminOk('show-tenant', 'limited', '--json'));
    const stageDefaults = stack.deps.config.OBELM_TENANT_LIMITS;
    expect(shown).toMatchObject({
      tenant: 'limited',
      status: 'active',
      keys: { active: 0, revoked: 0 },
      limits: {
        overridden: { maxSteps: 50, monthlyGpuSeconds: 3600 },
        effective: { ...stageDefaults, maxSteps: 50, monthlyGpuSeconds: 3600 },
        stageDefaults,
      },
    });
    await adminOk('set-limits', '--tenant', 'limited', '--clear', 'max-steps', '--parallel-jobs', '2');
    const [afterJson, text] = await Promise.all([
      adminOk('show-tenant', 'limited', '--json'),
      adminOk('show-tenant', 'limited'),
    ]);
    const after = JSON.parse(afterJson);
    expect(after.limits.overridden).toEqual({ monthlyGpuSeconds: 3600, parallelJobs: 2 });
    expect(after.limits.effective.maxSteps).toBe(DEFAULT_TENANT_LIMITS.maxSteps);

    expect(text).toMatch(/^tenant +limited$/m);
    expect(text).toMatch(/^keys +0 active, 0 revoked$/m);
    expect(text).toMatch(/^parallelJobs +2 +tenant$/m);
    expect(text).toMatch(/^maxSteps +\d+ +stage default$/m);
    expect(text).toMatch(/^monthlyBudgetMicros +none +stage default$/m);
  });

  it('suspends and resumes a tenant', async () => {
    await adminOk('create-tenant', 'sleepy');
    expect(await adminOk('suspend-tenant', 'sleepy')).toContain('suspended tenant sleepy');
    expect(JSON.parse(await adminOk('show-tenant', 'sleepy', '--json')).status).toBe('suspended');
    await adminOk('resume-tenant', '--tenant', 'sleepy');
    expect(JSON.parse(await adminOk('show-tenant', 'sleepy', '--json')).status).toBe('active');
    const missing = await admin('suspend-tenant', 'nobody');
    expect(missing.code).toBe(1);
    expect(lines(missing.stderr)).toEqual(['obelm: No tenant nobody']);
  });

  it('exits 2 with one line on a command line it cannot run, before touching anything', async () => {
    await adminOk('create-tenant', 'untouched');
    const cases: [string[], RegExp][] = [
      [['admin', 'create-tenant'], /^obelm: create-tenant takes one argument/],
      [['admin', 'create-tenant', 'a', 'b'], /^obelm: create-tenant takes one value/],
      [['admin', 'create-tenant', 'bad tenant!'], /^obelm: Tenant ids are 1-64 of A-Z a-z 0-9 _ -/],
      [['admin', 'create-key', '--tenant', 'untouched', '--bogus'], /^obelm: Unknown option '--bogus'/],
      [
        ['admin', 'set-limits', '--tenant', 'untouched', '--max-steps', 'ten'],
        /^obelm: --max-steps takes a whole number/,
      ],
      [['admin', 'set-limits', '--tenant', 'untouched', '--requests-per-second', '0'], /requestsPerSecond/],
      [['admin', 'set-limits', '--tenant', 'untouched', '--clear', 'speed'], /^obelm: Unknown limit speed/],
      [['admin', 'set-limits', '--tenant', 'untouched'], /^obelm: nothing to set/],
      [['admin', 'rename-tenant'], /^obelm: unknown admin command 'rename-tenant'/],
      [['frobnicate'], /^obelm: unknown command 'frobnicate'/],
      [['usage', '--month', '2025-13'], /^obelm: --month takes YYYY-MM/],
    ];
    // Independent and read-only: run at once.
    const runs = await Promise.all(cases.map(([args]) => obelm(dataDir, args)));
    for (const [i, [args, message]] of cases.entries()) {
      const run = runs[i]!;
      expect(run.code, args.join(' ')).toBe(2);
      expect(lines(run.stderr), args.join(' ')).toHaveLength(1);
      expect(run.stderr, args.join(' ')).toMatch(message);
    }
    // Nothing was changed by the refused set-limits, nor a key made.
    const untouched = JSON.parse(await adminOk('show-tenant', 'untouched', '--json'));
    expect(untouched.limits.overridden).toEqual({});
    expect(untouched.keys).toEqual({ active: 0, revoked: 0 });
    // The bin as installed (the other commands run its sources as test/cli/helpers.ts bundles them).
    const help = await obelm(dataDir, ['--help'], {}, { bin: true });
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('obelm admin create-key --tenant <tenant> [--json] [--stage <name>]');
  });

  it('exits 1 with one line when a tenant exists, or is unknown or suspended for a new key', async () => {
    await adminOk('create-tenant', 'frozen');
    const again = await admin('create-tenant', 'frozen');
    expect(again.code).toBe(1);
    expect(lines(again.stderr)).toEqual(['obelm: Tenant frozen already exists']);
    await adminOk('suspend-tenant', 'frozen');
    const frozen = await admin('create-key', '--tenant', 'frozen');
    expect(frozen.code).toBe(1);
    expect(lines(frozen.stderr)).toEqual(['obelm: Tenant frozen is suspended: resume it first']);
    expect(frozen.stdout).toBe('');
  });
});

describe('on a deployed stage (--stage)', () => {
  it("works on the table its SSM parameters name, with the environment's credentials", async () => {
    const names = stageParameters('alice');
    const stageLimits = { ...DEFAULT_TENANT_LIMITS, requestsPerSecond: 7 };
    const ssm = await fakeSsm({
      [names.table]: stack.env['OBELM_TABLE']!,
      [names.tenantLimits]: JSON.stringify(stageLimits),
    });
    // No local stack in the data folder: the stage needs none.
    const elsewhere = mkdtempSync(join(tmpdir(), 'obelm-cli-stage-'));
    const aws = {
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: stack.env['AWS_ACCESS_KEY_ID']!,
      AWS_SECRET_ACCESS_KEY: stack.env['AWS_SECRET_ACCESS_KEY']!,
      AWS_ENDPOINT_URL_SSM: ssm.endpoint,
      AWS_ENDPOINT_URL_DYNAMODB: stack.env['AWS_ENDPOINT_URL_DYNAMODB']!,
    };
    try {
      // A stage that is not deployed, meanwhile.
      const unknownRun = obelm(elsewhere, ['admin', 'show-tenant', 'staged', '--stage', 'bob'], aws);
      const created = await obelmOk(elsewhere, ['admin', 'create-tenant', 'staged', '--stage', 'alice'], aws);
      expect(created.trim()).toBe('created tenant staged on stage alice');
      expect(await getTenant(stack.deps.store, 'staged')).toMatchObject({ status: 'active' });
      const shown = JSON.parse(
        await obelmOk(elsewhere, ['admin', 'show-tenant', 'staged', '--json', '--stage', 'alice'], aws),
      );
      expect(shown.limits).toEqual({ effective: stageLimits, overridden: {}, stageDefaults: stageLimits });

      const unknown = await unknownRun;
      expect(unknown.code).toBe(1);
      expect(lines(unknown.stderr)).toHaveLength(1);
      expect(unknown.stderr).toContain(
        `cannot read SSM parameter ${stageParameters('bob').table} of stage bob`,
      );
    } finally {
      await new Promise((resolve) => ssm.server.close(resolve));
      rmSync(elsewhere, { recursive: true, force: true });
    }
  });
});

describe("the README's tenant example", () => {
  it('creates a tenant and a key and calls the API with it, as written', async () => {
    const readme = readFileSync(join(import.meta.dirname, '../../README.md'), 'utf8');
    const block = /```sh\n(npx obelm admin create-tenant acme[\s\S]*?)```/.exec(readme)?.[1] ?? '';
    expect(block.split('\n').filter(Boolean)).toHaveLength(3);
    const script = [
      'set -euo pipefail',
      `npx() { shift; node ${OBELM_BIN} "$@"; }`,
      block.replaceAll('http://127.0.0.1:8787', stack.apiUrl),
    ].join('\n');
    // Asynchronously: the stack serves from this very process.
    const { stdout } = await promisify(execFile)('bash', ['-c', script], {
      env: { ...process.env, OBELM_DATA_DIR: dataDir },
      encoding: 'utf8',
    });
    const usage = UsageSchema.parse(JSON.parse(stdout.trim().split('\n').at(-1)!));
    expect(usage.total.jobs).toBe(0);
    expect(JSON.parse(await adminOk('show-tenant', 'acme', '--json')).keys).toEqual({
      active: 1,
      revoked: 0,
    });
  });
});

describe.concurrent('without a running stack', () => {
  it('says so in one line (exit 1): no stack file, or one left by a stack that is gone', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'obelm-cli-none-'));
    try {
      const none = await obelm(empty, ['admin', 'show-tenant', 'dev']);
      expect(none.code).toBe(1);
      expect(lines(none.stderr)).toEqual([
        `obelm: no local stack runs in ${empty}: start one with \`npm start\` (or set OBELM_DATA_DIR to its data folder), or pass --stage <name>`,
      ]);
      // A stack file whose process is gone (a stack killed with -9).
      const stale = LocalStackFileSchema.parse(
        JSON.parse(readFileSync(join(dataDir, LOCAL_STACK_FILE), 'utf8')),
      );
      writeFileSync(join(empty, LOCAL_STACK_FILE), JSON.stringify({ ...stale, pid: 2 ** 22 + 1 }));
      const gone = await obelm(empty, ['admin', 'show-tenant', 'dev']);
      expect(gone.code).toBe(1);
      expect(gone.stderr).toMatch(/^obelm: the local stack in .* is not running \(its process is gone\)/);
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });

  it('removes the discovery file when the stack stops', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'obelm-cli-stop-'));
    try {
      const other = await startLocalStack({ dataDir: dir, port: 0, worker: false, sweepEverySeconds: 0 });
      expect(JSON.parse(await obelmOk(dir, ['admin', 'show-tenant', 'dev', '--json'])).keys.active).toBe(1);
      await other.stop();
      const after = await obelm(dir, ['admin', 'show-tenant', 'dev']);
      expect(after.code).toBe(1);
      expect(after.stderr).toContain('no local stack runs in');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('is the bin both package.json files name', () => {
    const root = JSON.parse(readFileSync(join(import.meta.dirname, '../../package.json'), 'utf8'));
    const cli = JSON.parse(
      readFileSync(join(import.meta.dirname, '../../packages/cli/package.json'), 'utf8'),
    );
    expect(join(import.meta.dirname, '../..', root.bin.obelm)).toBe(OBELM_BIN);
    expect(join(import.meta.dirname, '../../packages/cli', cli.bin.obelm)).toBe(OBELM_BIN);
  });
});
