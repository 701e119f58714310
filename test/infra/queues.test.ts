import { QUEUES, WORKER_HEARTBEAT_SECONDS, WORKER_MAX_ATTEMPTS } from '@obelm/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { one, type Recorded, recordResources, settle } from './pulumiMocks.ts';

let recorded: Recorded[];

beforeAll(async () => {
  recorded = await recordResources();
  const { ObelmQueues } = await import('../../infra/queues.ts');
  new ObelmQueues('Queues');
  await settle();
});

describe('jobs and webhooks queues', () => {
  it('gives the jobs queue a visibility timeout well above the worker heartbeat', () => {
    const jobs = one(recorded, 'aws:sqs/queue:Queue', 'Jobs');
    expect(jobs.name).toBe('Jobs');
    expect(jobs.inputs.visibilityTimeoutSeconds).toBe(120);
    expect(jobs.inputs.visibilityTimeoutSeconds as number).toBeGreaterThanOrEqual(
      2 * WORKER_HEARTBEAT_SECONDS,
    );
    expect(jobs.inputs.receiveWaitTimeSeconds).toBe(20);
  });

  it('redrives each queue to its own DLQ after more receives than the worker attempts', () => {
    const jobs = one(recorded, 'aws:sqs/queue:Queue', 'Jobs');
    const redrive = JSON.parse(jobs.inputs.redrivePolicy as string);
    expect(redrive.maxReceiveCount).toBe(5);
    expect(redrive.maxReceiveCount).toBeGreaterThan(WORKER_MAX_ATTEMPTS);
    expect(redrive.deadLetterTargetArn).toContain('JobsDlq');
    const webhooks = JSON.parse(
      one(recorded, 'aws:sqs/queue:Queue', 'Webhooks').inputs.redrivePolicy as string,
    );
    expect(webhooks.deadLetterTargetArn).toContain('WebhooksDlq');
    expect(webhooks.maxReceiveCount).toBe(5);
  });

  it('lets only the source queue redrive into each DLQ', () => {
    const allow = JSON.parse(
      one(recorded, 'aws:sqs/redriveAllowPolicy:RedriveAllowPolicy', 'JobsDlqAllow').inputs
        .redriveAllowPolicy as string,
    );
    expect(allow).toEqual({
      redrivePermission: 'byQueue',
      sourceQueueArns: [expect.stringContaining(':Jobs')],
    });
  });

  it('hides webhook messages for six dispatcher timeouts and keeps DLQ messages 14 days', () => {
    expect(one(recorded, 'aws:sqs/queue:Queue', 'Webhooks').inputs.visibilityTimeoutSeconds).toBe(180);
    expect(one(recorded, 'aws:sqs/queue:Queue', 'JobsDlq').inputs.messageRetentionSeconds).toBe(14 * 86400);
  });

  it("creates both queues from core's settings (the local stack's too)", () => {
    for (const [name, settings] of [
      ['Jobs', QUEUES.jobs],
      ['Webhooks', QUEUES.webhooks],
    ] as const) {
      const queue = one(recorded, 'aws:sqs/queue:Queue', name).inputs;
      expect(queue.visibilityTimeoutSeconds).toBe(settings.visibilityTimeoutSeconds);
      expect(JSON.parse(queue.redrivePolicy as string).maxReceiveCount).toBe(settings.maxReceiveCount);
    }
  });
});
