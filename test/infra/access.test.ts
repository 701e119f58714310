import { dbKeys } from '@obelm/core';
import { describe, expect, it } from 'vitest';
import { grants, HANDLER_GRANTS, select } from '../../infra/access.ts';
import { backlogSteps } from '../../infra/backlogScaling.ts';
import { settingsFor } from '../../stacks/settings.ts';
import { resolved } from './pulumiMocks.ts';

const arns = {
  bucketArn: 'arn:aws:s3:::b',
  tableArn: 'arn:aws:dynamodb:r:a:table/t',
  jobsQueueArn: 'arn:aws:sqs:r:a:jobs',
  webhooksQueueArn: 'arn:aws:sqs:r:a:webhooks',
};

describe('API handler access', () => {
  const all = grants(arns);
  const resourcesOf = async (name: keyof typeof HANDLER_GRANTS) =>
    (
      await Promise.all(select(all, HANDLER_GRANTS[name]).flatMap((g) => g.resources.map((r) => resolved(r))))
    ).sort();

  it('gives openapi nothing and listJobs only the index query', async () => {
    expect(HANDLER_GRANTS.openapi).toEqual([]);
    expect(await resourcesOf('listJobs')).toEqual([arns.tableArn, `${arns.tableArn}/index/gsi1`]);
  });

  it('lets createUpload write under uploads/ only', async () => {
    expect(await resourcesOf('createUpload')).toEqual([arns.tableArn, 'arn:aws:s3:::b/uploads/*']);
  });

  it('lets listModels query the model catalog partition and nothing else of the table', async () => {
    expect(await resourcesOf('listModels')).toEqual([arns.tableArn, arns.tableArn]);
    const query = select(all, HANDLER_GRANTS.listModels).find((g) => g.actions.includes('dynamodb:Query'));
    expect(query?.conditions).toEqual([
      {
        test: 'ForAllValues:StringEquals',
        variable: 'dynamodb:LeadingKeys',
        values: [dbKeys.modelsPartition],
      },
    ]);
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
