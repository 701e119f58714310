import { readdirSync, readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { DeleteObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { PurgeQueueCommand } from '@aws-sdk/client-sqs';
import { createDeps, type Deps, publishModel, ROUTES, SETTLE_MS, sweepJobs } from '@obelm/api';
import { type HandlerName, type JobView, type LambdaHandlerName, s3Keys, staleAfterMs } from '@obelm/core';
import { createApiServer, type LocalStack } from '@obelm/local';
import { catalogEntryOf, ensureDemoBundle, readManifest } from '@obelm/models';
import { setTenantLimits } from '@obelm/store';
import { appendSdkCall, recordSdkCalls, SDK_RECORD_ENV, type SdkCall } from '@obelm/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { grants, HANDLER_GRANTS, WORKER_GRANTS } from '../../infra/access.ts';
import {
  api,
  base64,
  createJob,
  demoPng,
  startTestStack,
  type TestStack,
  type WorkerProcess,
  waitForJob,
} from '../e2e/helpers.ts';
import { FAKE_ARNS } from './fakeArns.ts';
import { allowing, type IamRequest, type ResolvedGrant, requestsOf, resolveGrants } from './iam.ts';

/**
 * IAM coverage: every AWS SDK command each Lambda handler and the worker send, recorded while a local stack
 * serves every route and runs a job of every kind (uploads, noise reuse, an S3 model bundle, cancels, a
 * checkpoint and its resume, missing objects, the sweeper), must be allowed by that function's grants in
 * infra/access.ts; and every action on every resource those grants allow must have been used, or be listed
 * below with the reason the tests cannot see it. A handler that starts a new call, or a grant left behind,
 * fails here instead of as a 403 in the cloud.
 *
 * The API is served here by the stack's own adapter and routes, with one set of clients per handler (as each
 * Lambda has its own) that records under the handler's name; the worker is the container program, recording
 * through its clients (OBELM_TEST_RECORD_SDK).
 */

type Fn = LambdaHandlerName | 'worker';

/**
 * Allowed (grant, action, resource) triples no test run uses, each with why. Keys: `fn grant action resource`
 * with the fake ARNs.
 */
const UNSEEN: Record<string, string> = {
  'cancelJob jobsRead s3:GetObject arn:aws:s3:::b/jobs/*':
    'toJobView presigns the outputs a job has; a job that can still be canceled has none yet',
  'createJob fleetStart ecs:DescribeServices arn:aws:ecs:r:a:service/c/worker': 'cloud only: no ECS locally',
  'createJob fleetStart ecs:UpdateService arn:aws:ecs:r:a:service/c/worker': 'cloud only: no ECS locally',
  'cancelJob jobsSend sqs:SendMessage arn:aws:sqs:r:a:jobs':
    "a job's end releases a held job of its tenant; this run gives the tenant a slot for every job (held jobs: test/local/fairShare.test.ts)",
  'worker jobsSend sqs:SendMessage arn:aws:sqs:r:a:jobs':
    "a job's end releases a held job of its tenant; this run gives the tenant a slot for every job (held jobs: test/local/fairShare.test.ts)",
};

let t: TestStack;
let recordFile: string;
let server: ReturnType<typeof createApiServer>;
const clients: Deps[] = [];
const workers: WorkerProcess[] = [];

/** Clients of one function, recording under its name. */
function recordedDeps(fn: LambdaHandlerName): Deps {
  const deps = createDeps(t.stack.env);
  for (const client of [deps.s3, deps.sqs, deps.db]) recordSdkCalls(client, recordFile, fn);
  clients.push(deps);
  return deps;
}

/** createPresignedPost sends no command: the form it signed is recorded from the answer. */
function recordUploadForm(fn: HandlerName, form: { fields: Record<string, string> }): void {
  appendSdkCall(recordFile, {
    fn,
    command: 'PresignedPost',
    bucket: t.stack.deps.config.OBELM_BUCKET,
    ...(form.fields['key'] !== undefined ? { key: form.fields['key'] } : {}),
  });
}

/** POST /v1/jobs with an Idempotency-Key: the job view, or the error body. */
async function post(s: LocalStack, body: object, key: string) {
  const res = await fetch(`${s.apiUrl}/v1/jobs`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${s.devKey}`,
      'content-type': 'application/json',
      'idempotency-key': key,
    },
    body: JSON.stringify(body),
  });
  return (await res.json()) as JobView & { error?: { code: string } };
}

const recorded = (): SdkCall[] =>
  readFileSync(recordFile, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as SdkCall);

beforeAll(async () => {
  t = await startTestStack();
  recordFile = join(t.stack.dataDir, 'sdk-calls.jsonl');
  const { deps: admin, tenant } = t.stack;
  const bucket = admin.config.OBELM_BUCKET;

  // An S3 model bundle (the demo's files under models/shapes/) and its catalog entry: arranged, not recorded.
  const demoDir = await ensureDemoBundle(join(t.stack.dataDir, 'built'));
  for (const name of readdirSync(demoDir)) {
    const Key = `${s3Keys.model('shapes')}${name}`;
    await admin.s3.send(
      new PutObjectCommand({ Bucket: bucket, Key, Body: readFileSync(join(demoDir, name)) }),
    );
  }
  await publishModel(
    admin.db,
    admin.config.OBELM_TABLE,
    catalogEntryOf(await readManifest(demoDir), { id: 'shapes' }),
  );

  // A monthly budget (createJob then reads the month's usage) and dispatch slots for every job queued below
  // while no worker runs (each is sent at once, none held).
  await setTenantLimits(admin.store, tenant, { monthlyBudgetMicros: 10 ** 12, parallelJobs: 100 });

  const byHandler = new Map<HandlerName, Deps>();
  server = createApiServer(
    ROUTES.map((route) => ({
      ...route,
      handler: route.build(() => {
        const deps = byHandler.get(route.handler) ?? recordedDeps(route.handler);
        byHandler.set(route.handler, deps);
        return deps;
      }),
    })),
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const s: LocalStack = { ...t.stack, apiUrl: `http://127.0.0.1:${port}` };
  const spawn = (env: Record<string, string> = {}) => {
    const worker = t.spawnWorker({ ...env, [SDK_RECORD_ENV]: recordFile });
    workers.push(worker);
    return worker;
  };
  const done = async (job: JobView, status = 'succeeded') => {
    const end = await waitForJob(s, job.id, undefined, 60_000);
    expect(end.status, JSON.stringify(end.error)).toBe(status);
    return end;
  };
  const redCircle = await demoPng({ shape: 'circle', colour: 'red' });
  const square = await demoPng({ shape: 'square', colour: 'green', background: 'forest', position: 'right' });

  // No worker yet: routes, an upload named before its file is there, a queued cancel, the sweeper.
  expect((await api(s, 'GET', '/v1/openapi.json')).status).toBe(200);
  expect((await api(s, 'GET', '/v1/models')).status).toBe(200);
  const upload = await api<{ url: string; fields: Record<string, string>; uploadId: string }>(
    s,
    'POST',
    '/v1/uploads',
    { contentType: 'image/png' },
  );
  expect(upload.status).toBe(201);
  recordUploadForm('createUpload', upload.body);
  const edit = {
    kind: 'edit',
    image: { uploadId: upload.body.uploadId },
    sourcePrompt: 'red circle',
    targetPrompt: 'blue circle',
  };
  // HeadObject of a missing object: 404 -> 409 upload_pending (a 403 would be a 500).
  const pending = await api<{ error: { code: string } }>(s, 'POST', '/v1/jobs', edit);
  expect(pending.body.error?.code).toBe('upload_pending');
  const form = new FormData();
  for (const [k, v] of Object.entries(upload.body.fields)) form.append(k, v);
  form.append('file', new Blob([redCircle], { type: 'image/png' }));
  expect((await fetch(upload.body.url, { method: 'POST', body: form })).status).toBeLessThan(300);

  const edited = await post(s, edit, 'edit-once');
  const inverted = await createJob(s, { kind: 'invert', image: { base64: base64(redCircle) } });
  const fromBundle = await createJob(s, { kind: 'sample', model: 'shapes', prompt: 'red circle', steps: 6 });
  const interpolated = await createJob(s, {
    kind: 'interpolate',
    images: [{ base64: base64(redCircle) }, { base64: base64(square) }],
    weights: [0, 1],
    steps: 6,
  });
  // Its input gone before a worker reads it: GetObject 404 -> input_not_found (a 403 would be retried).
  const orphan = await createJob(s, { kind: 'reconstruct', image: { base64: base64(square) } });
  await admin.s3.send(
    new DeleteObjectCommand({ Bucket: bucket, Key: s3Keys.jobInput(tenant, orphan.id, 0) }),
  );
  // The queue down: the job is marked failed and its Idempotency-Key released (503 queue_unavailable).
  await t.stack.standIns.sqs.stop();
  const unqueued = await post(s, { kind: 'sample', prompt: 'ring', steps: 4 }, 'never-queued');
  expect(unqueued.error?.code).toBe('queue_unavailable');
  await t.stack.standIns.sqs.start();
  const queuedCancel = await createJob(s, { kind: 'sample', prompt: 'star', steps: 4 });
  expect((await api(s, 'POST', `/v1/jobs/${queuedCancel.id}/cancel`)).status).toBe(200);
  const sweeping = { staleAfterMs: staleAfterMs(1) };
  // The queued jobs' messages lost (purged, as an in-memory queue's restart would): the sweep, once the
  // queue's counts have had time to show them, sends them again.
  await admin.sqs.send(new PurgeQueueCommand({ QueueUrl: admin.config.OBELM_JOBS_QUEUE_URL }));
  const settled = { ...recordedDeps('sweeper'), now: () => new Date(Date.now() + SETTLE_MS + 1000) };
  expect((await sweepJobs(settled, sweeping)).requeued).toContain(edited.id);

  const worker = spawn();
  await done(edited);
  // A replay of a finished job: createJob answers its view, with output links.
  expect((await post(s, edit, 'edit-once')).outputs?.image).toBeDefined();
  await done(fromBundle);
  await done(interpolated);
  const orphaned = await done(orphan, 'failed');
  expect(orphaned.error?.code).toBe('input_not_found');
  await done(
    await createJob(s, { kind: 'sample', noise: { jobId: (await done(inverted)).id }, prompt: 'star' }),
  );
  await worker.stop();

  // A slow worker: a running job canceled, another stopped mid-way (checkpoint) and resumed by a fresh worker.
  const slow = spawn({ OBELM_TEST_STEP_DELAY_MS: '40', OBELM_STOP_GRACE_SECONDS: '0' });
  const long = { kind: 'sample', prompt: 'white cross', seed: 11, steps: 60 };
  const canceled = await createJob(s, long);
  await waitForJob(s, canceled.id, ['running'], 30_000, (j) => (j.progress?.step ?? 0) > 0);
  expect((await api(s, 'POST', `/v1/jobs/${canceled.id}/cancel`)).status).toBe(200);
  await done(canceled, 'canceled');
  const parked = await createJob(s, long);
  await waitForJob(s, parked.id, ['running'], 30_000, (j) => (j.progress?.step ?? 0) >= 10);
  expect(await slow.stop()).toBe(0);
  await waitForJob(s, parked.id, ['queued']);
  const resumer = spawn();
  await done(parked);
  await resumer.stop();

  // A queued job no worker takes, swept once its time to live has passed: expired.
  const forgotten = await createJob(s, { kind: 'sample', prompt: 'dot', steps: 4 });
  const sweeper = recordedDeps('sweeper');
  const ttlMs = sweeper.config.OBELM_JOB_TTL_SECONDS * 1000;
  const late = await sweepJobs({ ...sweeper, now: () => new Date(Date.now() + ttlMs + 60_000) }, sweeping);
  expect(late.expired).toContain(forgotten.id);

  const listed = await api<{ jobs: JobView[] }>(s, 'GET', '/v1/jobs?limit=100');
  expect(listed.body.jobs.some((job) => job.outputs?.image)).toBe(true);
  expect((await api(s, 'GET', '/v1/usage')).status).toBe(200);
  expect((await api(s, 'DELETE', `/v1/jobs/${interpolated.id}`)).status).toBe(200);
}, 240_000);

afterAll(async () => {
  await Promise.all(workers.map((worker) => worker.stop()));
  await new Promise((resolve) => server?.close(resolve));
  for (const deps of clients) for (const client of [deps.s3, deps.sqs, deps.db]) client.destroy();
  await t?.stop();
});

describe('IAM coverage of the recorded AWS calls', () => {
  const all = grants(FAKE_ARNS);
  const grantsOf = (fn: Fn) => resolveGrants(all, fn === 'worker' ? WORKER_GRANTS : HANDLER_GRANTS[fn]);
  const functions = [...(Object.keys(HANDLER_GRANTS) as LambdaHandlerName[]), 'worker' as const];
  const names = () => ({
    bucket: t.stack.deps.config.OBELM_BUCKET,
    bucketArn: FAKE_ARNS.bucketArn,
    table: t.stack.deps.config.OBELM_TABLE,
    tableArn: FAKE_ARNS.tableArn,
    queues: {
      [t.stack.env['OBELM_JOBS_QUEUE_URL']!]: FAKE_ARNS.jobsQueueArn,
      [t.stack.env['OBELM_WEBHOOKS_QUEUE_URL']!]: FAKE_ARNS.webhooksQueueArn,
    },
  });
  const requests = () =>
    recorded().flatMap((call) =>
      requestsOf(call, names()).map((request) => ({ fn: call.fn as Fn, call, request })),
    );

  it('recorded every function that has grants', () => {
    const seen = new Set(recorded().map((call) => call.fn));
    const withGrants = functions.filter((fn) => fn === 'worker' || HANDLER_GRANTS[fn].length > 0);
    expect(withGrants.filter((fn) => !seen.has(fn))).toEqual([]);
    expect(recorded().some((call) => call.presigned)).toBe(true);
  });

  it("allows every call in its function's grants", async () => {
    const denied: string[] = [];
    for (const fn of functions) {
      const own = await grantsOf(fn);
      for (const { call, request } of requests().filter((r) => r.fn === fn)) {
        if (!allowing(own, request)) denied.push(`${fn}: ${show(request)} (${call.command})`);
      }
    }
    expect([...new Set(denied)]).toEqual([]);
  });

  it('grants nothing that no call uses, beyond what UNSEEN explains', async () => {
    const unused: string[] = [];
    for (const fn of functions) {
      const own = await grantsOf(fn);
      const mine = requests().filter((r) => r.fn === fn);
      for (const grant of own) {
        for (const action of grant.actions) {
          for (const resource of grant.resources) {
            const used = mine.some(
              ({ request }) =>
                request.action === action && allowing([only(grant, resource)], request) !== undefined,
            );
            if (!used) unused.push(`${fn} ${grant.name} ${action} ${resource}`);
          }
        }
      }
    }
    expect(unused.filter((entry) => !(entry in UNSEEN))).toEqual([]);
    // An explanation for something that is used (or no longer granted) is stale.
    expect(Object.keys(UNSEEN).filter((entry) => !unused.includes(entry))).toEqual([]);
  });
});

/** `grant` narrowed to one of its resources. */
const only = (grant: ResolvedGrant, resource: string): ResolvedGrant => ({ ...grant, resources: [resource] });

const show = ({ action, resource, context }: IamRequest) =>
  `${action} ${resource}${Object.keys(context).length ? ` ${JSON.stringify(context)}` : ''}`;
