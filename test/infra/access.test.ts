import { dbKeys } from '@obelm/core';
import type { SdkCall } from '@obelm/worker';
import { describe, expect, it } from 'vitest';
import { type GrantName, grants, HANDLER_GRANTS, select, WORKER_GRANTS } from '../../infra/access.ts';
import { backlogSteps } from '../../infra/backlogScaling.ts';
import { settingsFor } from '../../stacks/settings.ts';
import { FAKE_ARNS } from './fakeArns.ts';
import { allowing, requestsOf, resolveGrants } from './iam.ts';
import { resolved } from './pulumiMocks.ts';

const arns = FAKE_ARNS;

describe('API handler access', () => {
  const all = grants(arns);
  const resourcesOf = async (name: keyof typeof HANDLER_GRANTS) =>
    (
      await Promise.all(select(all, HANDLER_GRANTS[name]).flatMap((g) => g.resources.map((r) => resolved(r))))
    ).sort();

  it('gives openapi nothing, and listJobs the index query and the outputs its links point to', async () => {
    expect(HANDLER_GRANTS.openapi).toEqual([]);
    // The table: the key and its tenant (GetItem), the key's rate window (UpdateItem), a batch's pointers
    // (Query) and its jobs (BatchGetItem).
    expect(await resourcesOf('listJobs')).toEqual([
      arns.tableArn,
      arns.tableArn,
      arns.tableArn,
      arns.tableArn,
      `${arns.tableArn}/index/gsi1`,
      'arn:aws:s3:::b/batch-out/*',
      'arn:aws:s3:::b/jobs/*',
    ]);
  });

  it('lets every handler that answers a job view read the outputs it links to', async () => {
    for (const name of ['createJob', 'getJob', 'listJobs', 'cancelJob'] as const) {
      const reads = select(all, HANDLER_GRANTS[name]).filter((g) => g.actions.includes('s3:GetObject'));
      const resources = await Promise.all(reads.flatMap((g) => g.resources.map((r) => resolved(r))));
      expect(resources, name).toContain('arn:aws:s3:::b/jobs/*');
    }
  });

  it('lets createUpload write under uploads/ only', async () => {
    expect(await resourcesOf('createUpload')).toEqual([
      arns.tableArn,
      arns.tableArn,
      arns.tableArn,
      'arn:aws:s3:::b/uploads/*',
    ]);
  });

  it('lets the readers of objects that may be missing list the bucket, so S3 answers 404 and not 403', () => {
    const lists = (names: readonly GrantName[]) =>
      select(all, names).filter((g) => g.actions.includes('s3:ListBucket'));
    expect(lists(HANDLER_GRANTS.createJob).map((g) => g.conditions)).toEqual([
      [{ test: 'StringLikeIfExists', variable: 's3:prefix', values: ['uploads/*'] }],
    ]);
    expect(lists(WORKER_GRANTS).map((g) => g.conditions)).toEqual([
      [
        {
          test: 'StringLikeIfExists',
          variable: 's3:prefix',
          values: ['uploads/*', 'jobs/*', 'models/*', 'batch/*', 'batch-out/*'],
        },
      ],
    ]);
  });

  it('lets listModels query the model catalog partition and nothing else of the table', async () => {
    expect(await resourcesOf('listModels')).toEqual([arns.tableArn, arns.tableArn, arns.tableArn]);
    const query = select(all, HANDLER_GRANTS.listModels).find((g) => g.actions.includes('dynamodb:Query'));
    expect(query?.conditions).toEqual([
      {
        test: 'ForAllValues:StringEquals',
        variable: 'dynamodb:LeadingKeys',
        values: [dbKeys.modelsPartition],
      },
    ]);
  });

  it("gives the queue handlers' roles exactly what Lambda's polling of their queue needs", async () => {
    const polling = ['sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:GetQueueAttributes'];
    expect(all.webhooksConsume.actions).toEqual(polling);
    expect(await Promise.all(all.webhooksConsume.resources.map((r) => resolved(r)))).toEqual([
      arns.webhooksQueueArn,
    ]);
    expect(all.batchConsume.actions).toEqual(polling);
    expect(await Promise.all(all.batchConsume.resources.map((r) => resolved(r)))).toEqual([
      arns.batchQueueArn,
    ]);
  });

  it('lets createBatch sign uploads under batch/ only, and only the dispatcher send to the webhooks DLQ', async () => {
    const writes = select(all, HANDLER_GRANTS.createBatch).filter((g) => g.actions.includes('s3:PutObject'));
    expect(await Promise.all(writes.flatMap((g) => g.resources.map((r) => resolved(r))))).toEqual([
      'arn:aws:s3:::b/batch/*',
    ]);
    const dlqSenders = Object.entries(HANDLER_GRANTS).filter(([, names]) =>
      (names as readonly GrantName[]).includes('webhooksDlqSend'),
    );
    expect(dlqSenders.map(([name]) => name)).toEqual(['webhookDispatcher']);
  });

  it('never grants a wildcard action', () => {
    const actions = Object.values(HANDLER_GRANTS).flatMap((names) =>
      select(all, names).flatMap((g) => g.actions),
    );
    expect(actions.length).toBeGreaterThan(0);
    expect(actions.filter((a) => a.includes('*'))).toEqual([]);
  });
});

describe('backlog steps', () => {
  it('maps a backlog to ceil(backlog / jobsPerTask) tasks, capped at the maximum', () => {
    const steps = backlogSteps(4, 3);
    const tasksFor = (backlog: number) =>
      steps.find((s) => backlog - 1 >= s.lower && (s.upper === undefined || backlog - 1 < s.upper))?.tasks;
    expect([1, 4, 5, 8, 9, 100].map(tasksFor)).toEqual([1, 1, 2, 2, 3, 3]);
  });

  it('stays within the 20 steps a policy allows and still reaches the maximum', () => {
    const steps = backlogSteps(1, 50);
    expect(steps).toHaveLength(20);
    expect(steps.at(-1)).toEqual({ lower: 19, tasks: 50 });
  });

  it('rejects nonsense', () => {
    expect(() => backlogSteps(0, 2)).toThrow(expect.objectContaining({ code: 'bad_jobs_per_task' }));
    expect(() => backlogSteps(1, 0)).toThrow(expect.objectContaining({ code: 'bad_max_tasks' }));
  });
});

describe('stage settings', () => {
  it('idles at zero GPU workers on every stage', () => {
    for (const stage of ['production', 'staging', 'alice']) expect(settingsFor(stage).gpu.minWorkers).toBe(0);
  });

  it('protects production data and keeps personal stages disposable', () => {
    expect(settingsFor('production').protect).toBe(true);
    expect(settingsFor('alice').protect).toBe(false);
    expect(settingsFor('alice').outputRetentionDays).toBe(30);
  });
});

describe('IAM evaluation of recorded calls (test/infra/iam.ts)', () => {
  const all = grants(FAKE_ARNS);
  const names = {
    bucket: 'bkt',
    bucketArn: FAKE_ARNS.bucketArn,
    table: 'tbl',
    tableArn: FAKE_ARNS.tableArn,
    queues: { 'http://q/jobs': FAKE_ARNS.jobsQueueArn },
  };
  const allowedFor = async (grantNames: readonly GrantName[], call: SdkCall) => {
    const own = await resolveGrants(all, grantNames);
    return requestsOf(call, names).map((request) => allowing(own, request)?.name);
  };

  it('needs s3:GetObject for a presigned output link', async () => {
    const link = { fn: 'listJobs', command: 'GetObjectCommand', presigned: true, bucket: 'bkt' } as const;
    expect(await allowedFor(HANDLER_GRANTS.listJobs, { ...link, key: 'jobs/t/j/image.png' })).toEqual([
      'jobsRead',
    ]);
    expect(await allowedFor(HANDLER_GRANTS.listJobs, { ...link, key: 'uploads/t/u' })).toEqual([undefined]);
  });

  it('needs s3:ListBucket, with no s3:prefix, for a 404 on a read: IfExists passes it, StringLike would not', async () => {
    const head = {
      fn: 'createJob',
      command: 'HeadObjectCommand',
      bucket: 'bkt',
      key: 'uploads/t/u',
      status: 404,
    };
    expect(await allowedFor(HANDLER_GRANTS.createJob, head)).toEqual(['uploadsRead', 'uploadsList']);
    expect(await allowedFor(['uploadsRead'], head)).toEqual(['uploadsRead', undefined]);
    const strict = {
      ...all.uploadsList,
      conditions: [{ test: 'StringLike', variable: 's3:prefix', values: ['uploads/*'] }],
    };
    const [, list] = requestsOf(head, names);
    expect(
      allowing([{ ...strict, name: 'strict', resources: [FAKE_ARNS.bucketArn] }], list!),
    ).toBeUndefined();
  });

  it("keeps the worker's listings to the prefixes it reads", async () => {
    const list = { fn: 'worker', command: 'ListObjectsV2Command', bucket: 'bkt' };
    expect(await allowedFor(WORKER_GRANTS, { ...list, prefix: 'models/sd15/' })).toEqual(['workerList']);
    expect(await allowedFor(WORKER_GRANTS, { ...list, prefix: 'batch-out/t/b/' })).toEqual(['workerList']);
    expect(await allowedFor(WORKER_GRANTS, { ...list, prefix: 'idempotency/' })).toEqual([undefined]);
  });

  it("holds the catalog query to the models partition by the key condition's value", async () => {
    const query = (pk: string): SdkCall => ({
      fn: 'listModels',
      command: 'QueryCommand',
      table: 'tbl',
      keyCondition: { expression: 'pk = :pk', names: {}, values: { ':pk': pk } },
    });
    expect(await allowedFor(HANDLER_GRANTS.listModels, query(dbKeys.modelsPartition))).toEqual([
      'catalogQuery',
    ]);
    expect(await allowedFor(HANDLER_GRANTS.listModels, query('JOB#x'))).toEqual([undefined]);
  });

  it("holds a batch's pointer query to batch partitions by the key condition's value", async () => {
    const query = (pk: string): SdkCall => ({
      fn: 'getBatch',
      command: 'QueryCommand',
      table: 'tbl',
      keyCondition: {
        expression: 'pk = :pk AND begins_with(sk, :prefix)',
        names: {},
        values: { ':pk': pk, ':prefix': dbKeys.batchJobPrefix },
      },
    });
    expect(await allowedFor(HANDLER_GRANTS.getBatch, query(dbKeys.batch('bat_1').pk))).toEqual([
      'batchJobsQuery',
    ]);
    expect(await allowedFor(HANDLER_GRANTS.getBatch, query('USAGE#t'))).toEqual([undefined]);
  });

  it('refuses a command the action table does not know', () => {
    expect(() => requestsOf({ fn: 'worker', command: 'CopyObjectCommand', bucket: 'bkt' }, names)).toThrow(
      /IAM_ACTIONS/,
    );
  });
});
