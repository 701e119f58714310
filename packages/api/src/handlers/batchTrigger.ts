import middy from '@middy/core';
import sqsPartialBatchFailure from '@middy/sqs-partial-batch-failure';
import { createLogger, describeError } from '@obelm/core';
import type { SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { createdObjects, UnusableRecord } from '../batches/s3Event.ts';
import { startBatchJob } from '../batches/trigger.ts';
import { type Deps, type DepsProvider, lambdaDepsProvider } from '../deps.ts';

const log = createLogger('batchTrigger');

/**
 * The batch queue's consumer (the bucket's ObjectCreated notifications under batch/; locally the same events
 * bridged from s3rver, packages/local/src/s3Events.ts): each created object starts its batch job
 * (batches/trigger.ts). A record that fails is reported in `batchItemFailures`, so SQS retries only it (then
 * its DLQ); a record that can never name an object (not an S3 event, a bad key encoding) is logged and dropped.
 */
export const buildBatchTrigger = (deps: DepsProvider) =>
  middy<SQSEvent, SQSBatchResponse>()
    .use(
      sqsPartialBatchFailure({
        logger: (reason: unknown, record: SQSRecord) =>
          log.error('batch trigger: record failed; SQS delivers it again', {
            messageId: record.messageId,
            ...describeError(reason),
          }),
      }),
    )
    .handler(async (event) => {
      const d = deps();
      // The middleware turns each record's settled result into the batch response.
      const settled = await Promise.allSettled(event.Records.map((record) => handleRecord(d, record)));
      return settled as unknown as SQSBatchResponse;
    });

async function handleRecord(deps: Deps, record: SQSRecord): Promise<void> {
  let objects: ReturnType<typeof createdObjects>;
  try {
    objects = createdObjects(record.body);
  } catch (error) {
    if (!(error instanceof UnusableRecord)) throw error;
    log.warn('batch trigger: unusable record dropped', {
      messageId: record.messageId,
      reason: error.message,
    });
    return;
  }
  for (const object of objects) await startBatchJob(deps, object, log);
}

export const handler = buildBatchTrigger(lambdaDepsProvider);
