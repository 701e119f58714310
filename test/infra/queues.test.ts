import {
  QUEUE_HANDLERS,
  QUEUES,
  WEBHOOK_DISPATCH_TIMEOUT_SECONDS,
  WORKER_HEARTBEAT_SECONDS,
  WORKER_MAX_ATTEMPTS,
} from '@obelm/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { HANDLER_GRANTS } from '../../infra/access.ts';
import { ofType, one, type Recorded, recordResources, settle } from './pulumiMocks.ts';

let recorded: Recorded[];
let queuesModule: typeof import('../../infra/queues.ts');

beforeAll(async () => {
  recorded = await recordResources();
  queuesModule = await import('../../infra/queues.ts');
  const queues = new queuesModule.ObelmQueues('Queues');
  // As infra/api.ts wires each queue handler (its function is SST's; any name stands in for it here).
  for (const handler of QUEUE_HANDLERS) {
    const queue = queues[queuesModule.QUEUE_OF[handler]];
    queuesModule.queueEventSource(`${handler}Source`, { queueArn: queue.queue.arn, functionName: handler });
  }
  await settle();
});

describe('jobs, webhooks and batch queues', () => {
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
      ['Batch', QUEUES.batch],
    ] as const) {
      const queue = one(recorded, 'aws:sqs/queue:Queue', name).inputs;
      expect(queue.visibilityTimeoutSeconds).toBe(settings.visibilityTimeoutSeconds);
      expect(JSON.parse(queue.redrivePolicy as string).maxReceiveCount).toBe(settings.maxReceiveCount);
    }
  });
});

describe('queue handlers', () => {
  it('feeds the dispatcher from the webhooks queue and the batch trigger from the batch queue', () => {
    const sources = Object.fromEntries(
      ofType(recorded, 'aws:lambda/eventSourceMapping:EventSourceMapping').map((r) => [
        r.inputs.functionName,
        r.inputs.eventSourceArn,
      ]),
    );
    expect(sources).toEqual({
      webhookDispatcher: 'arn:aws:sqs:us-east-1:123456789012:Webhooks',
      batchTrigger: 'arn:aws:sqs:us-east-1:123456789012:Batch',
    });
  });

  it('hands each invocation up to 10 messages and takes back only those the handler reports failed', () => {
    for (const handler of QUEUE_HANDLERS) {
      expect(
        one(recorded, 'aws:lambda/eventSourceMapping:EventSourceMapping', `${handler}Source`).inputs,
      ).toMatchObject({ batchSize: 10, functionResponseTypes: ['ReportBatchItemFailures'], enabled: true });
    }
  });

  it("times each handler out well within its queue's visibility (AWS asks for a sixth)", () => {
    expect(queuesModule.queueHandlerTimeoutSeconds('webhookDispatcher')).toBe(
      WEBHOOK_DISPATCH_TIMEOUT_SECONDS,
    );
    for (const handler of QUEUE_HANDLERS) {
      const visibility = QUEUES[queuesModule.QUEUE_OF[handler]].visibilityTimeoutSeconds;
      expect(6 * queuesModule.queueHandlerTimeoutSeconds(handler)).toBeLessThanOrEqual(visibility);
    }
  });

  it("lets each handler's role do what Lambda's polling of its queue needs, on that queue only", () => {
    const consume = { webhookDispatcher: 'webhooksConsume', batchTrigger: 'batchConsume' } as const;
    for (const handler of QUEUE_HANDLERS) {
      expect(HANDLER_GRANTS[handler] as readonly string[]).toContain(consume[handler]);
      const others = Object.entries(HANDLER_GRANTS).filter(([name]) => name !== handler);
      expect(others.filter(([, names]) => (names as readonly string[]).includes(consume[handler]))).toEqual(
        [],
      );
    }
  });
});
