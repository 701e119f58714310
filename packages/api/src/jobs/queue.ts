import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { type JobItem, jobMessage } from '@obelm/core';
import type { Deps } from '../deps.ts';

/** Sends a job's ids (never its payload) to the jobs queue; duplicates are harmless, workers claim conditionally. */
export async function enqueueJob(deps: Deps, job: Pick<JobItem, 'id' | 'tenant'>): Promise<void> {
  await deps.sqs.send(
    new SendMessageCommand({
      QueueUrl: deps.config.OBELM_JOBS_QUEUE_URL,
      MessageBody: JSON.stringify(jobMessage(job.id, job.tenant)),
    }),
  );
}
