import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { type JobView, type ModelEntry, ModelEntrySchema, s3Keys, stageParameters } from '@obelm/core';
import { type LocalStack, startLocalStack } from '@obelm/local';
import { ensureDemoBundle } from '@obelm/models';
import { type TinySdFlavor, writeTinySdExport } from '@obelm/models/testing';
import { listModels } from '@obelm/store';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bundleFiles, uploadBundle } from '../../packages/cli/src/bundleUpload.ts';
import { localBundleTarget } from '../../packages/cli/src/target.ts';
import { createJob, WORKER_SCRIPT, waitForJob } from '../e2e/helpers.ts';
import { fakeSsm, obelm, obelmOk } from './helpers.ts';

/**
 * `obelm admin models add` and `list` as an operator runs them, against a local stack with a worker: each export
 * the tools write is checked and installed (its files under models/<id>/, its catalog entry), a job naming one
 * succeeds, and the export whose VAE encoder samples is refused with its reason, leaving nothing behind.
 */

/** The exports obelm takes; 'diffusers-script-random' (a sampling VAE encoder) is refused. */
const ACCEPTED: readonly TinySdFlavor[] = ['optimum', 'optimum-fp16', 'diffusers-script', 'sd2-v'];
const REFUSED: TinySdFlavor = 'diffusers-script-random';
const idOf = (flavor: TinySdFlavor) => `tiny-${flavor}`;

let stack: LocalStack;
let dataDir: string;
/** Environment of every command: the demo's cache (built once here), so `add demo` builds nothing. */
let cliEnv: Record<string, string>;
const exportDir = (flavor: TinySdFlavor) => join(dataDir, 'exports', flavor);

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'obelm-cli-models-'));
  const modelCache = join(dataDir, 'models');
  await ensureDemoBundle(modelCache);
  cliEnv = { OBELM_MODEL_CACHE: modelCache };
  await Promise.all([...ACCEPTED, REFUSED].map((flavor) => writeTinySdExport(exportDir(flavor), flavor)));
  stack = await startLocalStack({
    dataDir,
    port: 0,
    worker: 1,
    workerScript: WORKER_SCRIPT,
    sweepEverySeconds: 0,
    workerEnv: { OBELM_HEARTBEAT_SECONDS: '1', OBELM_POLL_SECONDS: '1', OBELM_MODEL_CACHE: modelCache },
  });
});
afterAll(async () => {
  await stack?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

const models = (...args: string[]) => obelm(dataDir, ['admin', 'models', ...args], cliEnv);
const modelsOk = (...args: string[]) => obelmOk(dataDir, ['admin', 'models', ...args], cliEnv);
const bucket = () => stack.env['OBELM_BUCKET']!;

/** The keys under a model's prefix, below it. */
async function installedFiles(id: string): Promise<string[]> {
  const prefix = s3Keys.model(id);
  const { Contents = [] } = await stack.deps.s3.send(
    new ListObjectsV2Command({ Bucket: bucket(), Prefix: prefix }),
  );
  return Contents.map((object) => object.Key!.slice(prefix.length)).sort();
}

async function installedBytes(id: string, path: string): Promise<Buffer> {
  const object = await stack.deps.s3.send(
    new GetObjectCommand({ Bucket: bucket(), Key: `${s3Keys.model(id)}${path}` }),
  );
  return Buffer.from(await object.Body!.transformToByteArray());
}

const catalogIds = async () => (await listModels(stack.deps.store)).map((entry) => entry.id);

/** A job through the API, to its end (20 s at most). */
const runJob = async (request: object): Promise<JobView> =>
  waitForJob(stack, (await createJob(stack, request)).id, undefined, 20_000);

describe('obelm admin models add', () => {
  // The first three run at once: the other two install nothing, so the first one's catalog stays exact.
  it.concurrent('checks and installs each export the tools write; list shows them; a job names one and succeeds', async () => {
    const runs = await Promise.all(
      ACCEPTED.map((flavor) => models('add', exportDir(flavor), '--id', idOf(flavor))),
    );
    for (const [i, flavor] of ACCEPTED.entries()) {
      const id = idOf(flavor);
      const run = runs[i]!;
      expect(run.code, `${flavor}: ${run.stderr}`).toBe(0);
      const checks = run.stdout.split('\n').filter((line) => line.startsWith('  ok  '));
      expect(checks, flavor).toHaveLength(4);
      expect(run.stdout).toMatch(
        /ok {2}noise -> sample -> invert round trip, 6 O-BELM steps .*: max-abs error \S+ \(<= 1e-8\)/,
      );
      expect(run.stdout).toMatch(/ok {2}image -> encode -> invert -> sample round trip/);
      expect(run.stdout.trim().split('\n').at(-1)).toBe(
        `installed ${id} on the local stack in ${dataDir}: jobs name it "model": "${id}" ` +
          '(the API sees a new or changed entry within 30 s)',
      );
      // Exactly the folder's files, byte for byte.
      const files = (await bundleFiles(exportDir(flavor))).map((file) => file.path);
      expect(files).toContain('unet/model.onnx');
      expect(await installedFiles(id)).toEqual(files);
      const unet = readFileSync(join(exportDir(flavor), 'unet', 'model.onnx'));
      expect((await installedBytes(id, 'unet/model.onnx')).equals(unet)).toBe(true);
    }

    // The worker finds a bundle under models/<id>/ and runs it, while `list` shows the catalog.
    const [job, listedJson, listedText] = await Promise.all([
      runJob({ kind: 'sample', model: idOf('sd2-v'), prompt: 'a photo of a cat', seed: 3, steps: 4 }),
      modelsOk('list', '--json'),
      modelsOk('list'),
    ]);
    const listed = JSON.parse(listedJson) as ModelEntry[];
    expect(listed.map((entry) => ModelEntrySchema.parse(entry).id).sort()).toEqual(
      ['demo', ...ACCEPTED.map(idOf)].sort(),
    );
    expect(listed.find((entry) => entry.id === idOf('sd2-v'))).toMatchObject({
      kind: 'sd',
      imageSize: [64, 64],
      limits: { minSteps: 2 },
    });
    const table = listedText.trim().split('\n');
    expect(table[0]).toMatch(/^ID\s+KIND\s+IMAGE\s+STEPS\s+GUIDANCE\s+TENANTS$/);
    expect(table.find((row) => row.startsWith(`${idOf('optimum')} `))).toMatch(
      /^tiny-optimum\s+sd\s+64x64\s+2-\d+ \(default \d+\)\s+<= \d+ \(default \d+\)\s+all$/,
    );
    expect(job.status, JSON.stringify(job.error)).toBe('succeeded');
    expect(job.model).toBe(idOf('sd2-v'));
  });

  it.concurrent('refuses the export whose VAE encoder samples, with its reason in one line, and installs nothing', async () => {
    const id = idOf(REFUSED);
    const run = await models('add', exportDir(REFUSED), '--id', id);
    expect(run.code).toBe(1);
    const lines = run.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      new RegExp(`^obelm: refused ${exportDir(REFUSED)}, nothing installed: .*RandomNormalLike`),
    );
    expect(await installedFiles(id)).toEqual([]);
    expect(await catalogIds()).not.toContain(id);
  });

  it.concurrent('exits 2 with one line on a command line it cannot run, and 1 on a folder that is not there', async () => {
    const dir = exportDir('optimum');
    const cases: [string[], number, RegExp][] = [
      [['add', dir], 2, /^obelm: add needs --id <id>/],
      [['add', dir, '--id', 'x', '--tenants', 'a,b c'], 2, /^obelm: --tenants takes ids of 1-64 characters/],
      [['add', 'demo', '--id', 'other'], 2, /^obelm: the built-in demo is always id 'demo'/],
      [['remove', 'x'], 2, /^obelm: unknown admin models command 'remove': add, list/],
      [['add', join(dataDir, 'nowhere'), '--id', 'x'], 1, /^obelm: no bundle folder at /],
    ];
    const runs = await Promise.all(cases.map(([args]) => models(...args)));
    for (const [i, [args, code, message]] of cases.entries()) {
      expect(runs[i]!.code, args.join(' ')).toBe(code);
      expect(runs[i]!.stderr.trim().split('\n'), args.join(' ')).toHaveLength(1);
      expect(runs[i]!.stderr, args.join(' ')).toMatch(message);
    }
    expect(await catalogIds()).not.toContain('x');
  });

  it('keeps the prefix equal to the folder on a re-install, with tenants and a description (--json)', async () => {
    const dir = exportDir('optimum');
    const notes = join(dir, 'notes.txt');
    writeFileSync(notes, 'exported with optimum');
    const first = JSON.parse(
      await modelsOk(
        'add',
        dir,
        '--id',
        'resync',
        '--tenants',
        'acme, dev',
        '--description',
        'SD, tiny',
        '--json',
      ),
    );
    expect(first.entry).toMatchObject({ id: 'resync', tenants: ['acme', 'dev'], description: 'SD, tiny' });
    expect(first.checks).toHaveLength(4);
    expect(first.roundTripError).toBeLessThanOrEqual(1e-8);
    expect(first.uploaded.location).toBe(`s3://${bucket()}/models/resync/`);
    expect(first.uploaded.files).toContain('notes.txt');
    expect(await installedFiles('resync')).toContain('notes.txt');

    rmSync(notes);
    const again = JSON.parse(await modelsOk('add', dir, '--id', 'resync', '--threads', '2', '--json'));
    expect(again.uploaded.removed).toEqual(['models/resync/notes.txt']);
    expect(await installedFiles('resync')).toEqual((await bundleFiles(dir)).map((file) => file.path));
    // The entry is replaced as a whole: no tenants named this time, so every tenant may use it.
    const entry = (await listModels(stack.deps.store)).find((e) => e.id === 'resync');
    expect(entry?.tenants).toBeUndefined();
  });
});

describe('the upload', () => {
  it('sends a file larger than a part in parts, follows links and leaves hidden files out', async () => {
    const dir = join(dataDir, 'large');
    mkdirSync(join(dir, 'unet'), { recursive: true });
    mkdirSync(join(dir, '.cache'));
    const weights = randomBytes(11 * 1024 * 1024 + 7); // 3 parts of 5 MiB (S3's smallest)
    writeFileSync(join(dir, 'weights.bin'), weights);
    writeFileSync(join(dir, '.cache', 'lock'), '');
    symlinkSync(join(dir, 'weights.bin'), join(dir, 'unet', 'model.onnx_data'));
    const target = localBundleTarget(dataDir);
    try {
      const report = await uploadBundle(
        target.s3,
        { bucket: target.bucket, prefix: s3Keys.model('large') },
        dir,
        {
          partSize: 5 * 1024 * 1024,
        },
      );
      expect(report.files.map((file) => file.path)).toEqual(['unet/model.onnx_data', 'weights.bin']);
      expect(report.bytes).toBe(2 * weights.length);
    } finally {
      target.close();
    }
    expect(await installedFiles('large')).toEqual(['unet/model.onnx_data', 'weights.bin']);
    expect((await installedBytes('large', 'unet/model.onnx_data')).equals(weights)).toBe(true);
  });
});

describe('on a deployed stage (--stage)', () => {
  it('uploads to the bucket and publishes to the table its SSM parameters name', async () => {
    const names = stageParameters('alice');
    const ssm = await fakeSsm({ [names.table]: stack.env['OBELM_TABLE']!, [names.bucket]: bucket() });
    // No local stack in this data folder: the stage needs none.
    const elsewhere = mkdtempSync(join(tmpdir(), 'obelm-cli-models-stage-'));
    const aws = {
      ...cliEnv,
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: stack.env['AWS_ACCESS_KEY_ID']!,
      AWS_SECRET_ACCESS_KEY: stack.env['AWS_SECRET_ACCESS_KEY']!,
      AWS_ENDPOINT_URL_SSM: ssm.endpoint,
      AWS_ENDPOINT_URL_DYNAMODB: stack.env['AWS_ENDPOINT_URL_DYNAMODB']!,
      AWS_ENDPOINT_URL_S3: stack.env['AWS_ENDPOINT_URL_S3']!,
    };
    try {
      const dir = exportDir('diffusers-script');
      const [sd, demo] = await Promise.all([
        obelmOk(elsewhere, ['admin', 'models', 'add', dir, '--id', 'staged', '--stage', 'alice'], aws),
        obelmOk(elsewhere, ['admin', 'models', 'add', 'demo', '--stage', 'alice', '--json'], aws),
      ]);
      expect(sd.trim().split('\n').at(-1)).toMatch(/^installed staged on stage alice: /);
      const unet = readFileSync(join(dir, 'unet', 'model.onnx'));
      expect((await installedBytes('staged', 'unet/model.onnx')).equals(unet)).toBe(true);
      // The demo is built in: its entry is published, nothing uploaded.
      expect(JSON.parse(demo)).toMatchObject({
        target: 'stage alice',
        entry: { id: 'demo' },
        uploaded: null,
      });
      expect(await catalogIds()).toContain('staged');
    } finally {
      await new Promise((resolve) => ssm.server.close(resolve));
      rmSync(elsewhere, { recursive: true, force: true });
    }
  });
});
