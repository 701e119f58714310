import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { awsClientSettings } from '@obelm/core';
import { recordedWhenAsked } from './sdkRecorder.ts';

type Env = Record<string, string | undefined>;

/**
 * The three AWS clients a worker uses. Region, endpoints (AWS_ENDPOINT_URL_*) and credentials come from core's
 * `awsClientSettings`: on ECS the default chain finds the task role; explicit keys only for a local endpoint.
 */
export interface AwsClients {
  readonly s3: S3Client;
  readonly sqs: SQSClient;
  readonly db: DynamoDBDocumentClient;
}

/**
 * Time to open a connection, and that a request's socket may sit idle, before the SDK counts an attempt as failed:
 * without them a blackholed endpoint holds a call, and the job (or the job ends queued behind it) forever. Longer
 * than the longest long poll (OBELM_POLL_SECONDS <= 20); a large download that keeps streaming is not cut.
 */
const requestHandler = { connectionTimeout: 3000, requestTimeout: 30_000 };

export function createAwsClients(env: Env = process.env): AwsClients {
  return {
    s3: createS3Client(env),
    // The queue URL's host is not routable locally; send to the configured SQS endpoint instead.
    sqs: recordedWhenAsked(
      new SQSClient({ ...awsClientSettings(env, 'SQS'), requestHandler, useQueueUrlAsEndpoint: false }),
      env,
      'worker',
    ),
    db: DynamoDBDocumentClient.from(
      recordedWhenAsked(
        new DynamoDBClient({ ...awsClientSettings(env, 'DYNAMODB'), requestHandler }),
        env,
        'worker',
      ),
      {
        marshallOptions: { removeUndefinedValues: true },
      },
    ),
  };
}

export function createS3Client(env: Env = process.env): S3Client {
  const settings = awsClientSettings(env, 'S3');
  // Path-style addressing only where a custom endpoint (the local S3 stand-in) cannot resolve bucket subdomains.
  return recordedWhenAsked(
    new S3Client({ ...settings, requestHandler, forcePathStyle: settings.endpoint !== undefined }),
    env,
    'worker',
  );
}

export function destroyAwsClients(clients: AwsClients): void {
  clients.s3.destroy();
  clients.sqs.destroy();
  clients.db.destroy();
}
