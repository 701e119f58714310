import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { PutObjectCommand, S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import { publishModel } from '@obelm/api';
import {
  BUNDLE_CACHE_MARKER,
  type JobView,
  loadConfig,
  type WorkerConfig,
  WorkerConfigSchema,
} from '@obelm/core';
import { type LocalStack, startLocalStack } from '@obelm/local';
import {
  catalogEntryOf,
  ensureDemoBundle,
  inferSdManifest,
  MANIFEST_FILE,
  readManifest,
} from '@obelm/models';
import { writeTinySdBundle } from '@obelm/models/testing';
import {
  bundleSourceOf,
  createS3Client,
  fetchBundle,
  loadModelBundle,
  type RunningWorker,
  startWorker,
} from '@obelm/worker';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { createJob, waitForJob } from '../e2e/helpers.ts';

/** Model ids published in the catalog: one uploaded to S3, one whose prefix stays empty. */
const UPLOADED = 'shapes';
const MISSING = 'nothing-here';
/** Uploaded too, each fetched first while S3 answers the named command with a 503 once. */
const FLAKY = { ListObjectsV2Command: 'flaky-list', GetObjectCommand: 'flaky-get' } as const;

let stack: LocalStack;
let dataDir: string;
let cacheDir: string;
let demoDir: string;
let config: WorkerConfig;
let worker: RunningWorker;
/** The worker's client for model bundles, ours so that tests can make S3 fail (`failNextUnderModels`). */
let bundleS3: S3Client;
const failNextUnderModels = new Set<string>();

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'obelm-bundles-'));
  cacheDir = join(dataDir, 'models');
  stack = await startLocalStack({ dataDir, port: 0, worker: false });
  Object.assign(process.env, stack.env);
  // The demo bundle's files stand in for a real export: any bundle folder uploaded under models/<id>/.
  demoDir = await ensureDemoBundle(join(dataDir, 'built'));
  await Promise.all([UPLOADED, ...Object.values(FLAKY)].map((id) => uploadBundle(id)));
  // Catalog entries before the first request (the API caches the catalog): the uploaded bundles' own, and for
  // the empty prefix what an SD-1.5 export without configs would get, so only the worker can find it missing.
  const uploaded = await readManifest(demoDir);
  for (const id of [UPLOADED, ...Object.values(FLAKY)]) {
    await publishModel(stack.deps.store, catalogEntryOf(uploaded, { id }));
  }
  const sd15 = await inferSdManifest(join(dataDir, MISSING));
  await publishModel(stack.deps.store, catalogEntryOf(sd15, { id: MISSING }));
  config = loadConfig(WorkerConfigSchema, {
    ...stack.env,
    OBELM_HEARTBEAT_SECONDS: '1',
    OBELM_POLL_SECONDS: '1',
    OBELM_MODEL_CACHE: cacheDir,
  });
  bundleS3 = createS3Client();
  bundleS3.middlewareStack.add(
    (next, context) => (args) => {
      const { Key, Prefix } = args.input as { Key?: string; Prefix?: string };
      const underModels = (Key ?? Prefix ?? '').startsWith('models/');
      // Above the SDK's retries (initialize step): as if S3 kept shedding load until they ran out.
      if (underModels && failNextUnderModels.delete(context.commandName ?? '')) throw slowDown();
      return next(args);
    },
    { step: 'initialize' },
  );
  worker = startWorker(config, { loadModel: (id) => loadModelBundle(id, config, bundleS3) });
});
afterAll(async () => {
  await worker?.stop();
  bundleS3?.destroy();
  await stack?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

async function uploadBundle(id: string, files = readdirSync(demoDir)): Promise<void> {
  for (const name of files) {
    await putModelFile(id, name, readFileSync(join(demoDir, name)));
  }
}

const putModelFile = (id: string, name: string, body: Uint8Array | string) =>
  stack.deps.s3.send(
    new PutObjectCommand({ Bucket: stack.deps.config.OBELM_BUCKET, Key: `models/${id}/${name}`, Body: body }),
  );

/** A small sample job on `model`, to its end (20 s at most). */
const runJob = async (model: string): Promise<JobView> => {
  const job = await createJob(stack, {
    kind: 'sample',
    model,
    prompt: 'red circle',
    seed: 2,
    steps: 6,
    guidance: 1,
  });
  return waitForJob(stack, job.id, undefined, 20_000);
};

/** What S3 answers a prefix that gets more requests than it can take (503 SlowDown), as the SDK hands it over. */
const slowDown = () =>
  new S3ServiceException({
    name: 'SlowDown',
    message: 'Please reduce your request rate.',
    $fault: 'server',
    $metadata: { httpStatusCode: 503 },
  });

/** Byte equality of two files (toEqual on megabytes of Buffer is slow). */
const sameBytes = (a: string, b: string) => readFileSync(a).equals(readFileSync(b));

/** An S3 client of our own that counts the objects it downloads. */
function countingS3() {
  const s3 = createS3Client();
  const counts = { gets: 0 };
  s3.middlewareStack.add(
    (next, context) => (args) => {
      if (context.commandName === 'GetObjectCommand') counts.gets++;
      return next(args);
    },
    { step: 'initialize' },
  );
  return { s3, counts };
}

function fetchInto(s3: ReturnType<typeof createS3Client>, id: string): Promise<string> {
  const source = bundleSourceOf(id, config);
  if (source.type !== 's3') throw new Error(`${id} is built in`);
  return fetchBundle(s3, source, cacheDir);
}

test('a job naming a model uploaded to S3 succeeds, from a complete copy in the model cache', async () => {
  const job = await runJob(UPLOADED);
  expect(job.status, JSON.stringify(job.error)).toBe('succeeded');
  const copy = join(cacheDir, UPLOADED);
  expect(sameBytes(join(copy, MANIFEST_FILE), join(demoDir, MANIFEST_FILE))).toBe(true);
  expect(sameBytes(join(copy, 'unet.onnx'), join(demoDir, 'unet.onnx'))).toBe(true);
  const marker = JSON.parse(readFileSync(join(copy, BUNDLE_CACHE_MARKER), 'utf8'));
  expect(marker.source).toBe(`s3://${config.OBELM_BUCKET}/models/${UPLOADED}/`);
  // No download folder or lock is left behind.
  expect((await readdir(cacheDir)).filter((name) => name.startsWith(`.${UPLOADED}`))).toEqual([]);
});

test('a complete copy is not downloaded again; a changed object is, and only that one', async () => {
  const { s3, counts } = countingS3();
  try {
    await fetchInto(s3, UPLOADED);
    expect(counts.gets).toBe(0);

    const manifest = JSON.parse(readFileSync(join(demoDir, MANIFEST_FILE), 'utf8'));
    await putModelFile(UPLOADED, MANIFEST_FILE, JSON.stringify({ ...manifest, description: 'v2' }));
    const dir = await fetchInto(s3, UPLOADED);
    expect(counts.gets).toBe(1); // unet.onnx is unchanged: linked from the old copy
    expect(JSON.parse(await readFile(join(dir, MANIFEST_FILE), 'utf8')).description).toBe('v2');
    expect(sameBytes(join(dir, 'unet.onnx'), join(demoDir, 'unet.onnx'))).toBe(true);
  } finally {
    s3.destroy();
  }
});

test('two fetches at once download once; a half copy, leftovers and a stale lock do not get in the way', async () => {
  const id = 'twin';
  await uploadBundle(id);
  // A crashed download's leftovers: a folder without marker at the bundle's place, a temp folder, a dead lock.
  mkdirSync(join(cacheDir, id), { recursive: true });
  writeFileSync(join(cacheDir, id, MANIFEST_FILE), '{"half": true');
  mkdirSync(join(cacheDir, `.${id}.tmp-dead`));
  const lock = join(cacheDir, `.${id}.lock`);
  writeFileSync(lock, '{}');
  const longAgo = new Date(Date.now() - 10 * 60_000);
  utimesSync(lock, longAgo, longAgo);

  const { s3, counts } = countingS3();
  try {
    const [a, b] = await Promise.all([fetchInto(s3, id), fetchInto(s3, id)]);
    expect(a).toBe(b);
    expect(counts.gets).toBe(2); // obelm.json and unet.onnx, once
    expect(sameBytes(join(a, MANIFEST_FILE), join(demoDir, MANIFEST_FILE))).toBe(true);
    // The temp folder, the lock (and its breaker) are gone.
    expect(readdirSync(cacheDir).filter((name) => name.startsWith(`.${id}.`))).toEqual([]);
  } finally {
    s3.destroy();
  }
});

test('a bundle in the SD folder layout is copied with its sub-folders', async () => {
  const sdDir = join(dataDir, 'tiny-sd');
  await writeTinySdBundle(sdDir);
  const files = (await readdir(sdDir, { recursive: true, withFileTypes: true }))
    .filter((entry) => entry.isFile())
    .map((entry) => relative(sdDir, join(entry.parentPath, entry.name)));
  expect(files).toContain(join('unet', 'model.onnx'));
  for (const file of files) await putModelFile('tiny-sd', file, readFileSync(join(sdDir, file)));

  const { s3 } = countingS3();
  try {
    const dir = await fetchInto(s3, 'tiny-sd');
    for (const file of files) expect(sameBytes(join(dir, file), join(sdDir, file)), file).toBe(true);
  } finally {
    s3.destroy();
  }
});

test('with S3 unreachable, a complete cached copy still serves; without one the error stands', async () => {
  const unreachable = new S3Client({
    endpoint: 'http://127.0.0.1:9', // discard port: nothing listens
    forcePathStyle: true,
    maxAttempts: 1,
  });
  try {
    expect(await fetchInto(unreachable, UPLOADED)).toBe(join(cacheDir, UPLOADED));
    await expect(fetchInto(unreachable, 'never-fetched')).rejects.toThrow();
  } finally {
    unreachable.destroy();
  }
});

test.each(Object.entries(FLAKY))(
  'a 503 from S3 on %s while fetching a bundle re-queues the job, and the retry succeeds',
  async (command, id) => {
    failNextUnderModels.add(command);
    const job = await runJob(id);
    expect(failNextUnderModels.has(command)).toBe(false); // the fault did strike
    expect(job.status, JSON.stringify(job.error)).toBe('succeeded');
    const report = (await (await fetch(job.outputs!.report!.url)).json()) as { attempt: number };
    // Retried with the attempt given back: a passing S3 fault is not the job's (job/stopped.ts).
    expect(report.attempt).toBe(1);
    expect(existsSync(join(cacheDir, id, BUNDLE_CACHE_MARKER))).toBe(true);
  },
);

test('a model whose S3 prefix is empty fails the job with model_not_found', async () => {
  const job = await runJob(MISSING);
  expect(job.status).toBe('failed');
  expect(job.error?.code).toBe('model_not_found');
  expect(job.error?.message).toContain(`models/${MISSING}/`);
  expect(existsSync(join(cacheDir, MISSING))).toBe(false);
});

test('the rule from id to bundle: demo built in, the configured s3:// URL for its id, else models/<id>/', () => {
  const rules = { OBELM_BUCKET: 'jobs-bucket', OBELM_MODEL_BUNDLE: 's3://other-bucket/exports/sd15/' };
  expect(bundleSourceOf('demo', rules)).toEqual({ type: 'built-in', id: 'demo' });
  expect(bundleSourceOf('sd15', rules)).toEqual({
    type: 's3',
    id: 'sd15',
    bucket: 'other-bucket',
    prefix: 'exports/sd15/',
  });
  expect(bundleSourceOf('sd21', rules)).toEqual({
    type: 's3',
    id: 'sd21',
    bucket: 'jobs-bucket',
    prefix: 'models/sd21/',
  });
  expect(() => bundleSourceOf('../etc', rules)).toThrow();
});
