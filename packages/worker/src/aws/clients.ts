import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

/** The three AWS clients a worker uses. Endpoints come from AWS_ENDPOINT_URL_* (the SDK reads them itself). */
export interface AwsClients {
  readonly s3: S3Client;
  readonly sqs: SQSClient;
  readonly db: DynamoDBDocumentClient;
}

export function createAwsClients(env: Record<string, string | undefined> = process.env): AwsClients {
  return {
    s3: createS3Client(env),
    // The queue URL's host is not routable locally; send to the configured SQS endpoint instead.
    sqs: new SQSClient({ useQueueUrlAsEndpoint: false }),
    db: DynamoDBDocumentClient.from(new DynamoDBClient({}), {
      marshallOptions: { removeUndefinedValues: true },
    }),
  };
}

export function createS3Client(env: Record<string, string | undefined> = process.env): S3Client {
  // Path-style addressing only where a custom endpoint (the local S3 stand-in) cannot resolve bucket subdomains.
  return new S3Client({ forcePathStyle: env['AWS_ENDPOINT_URL_S3'] !== undefined });
}

export function destroyAwsClients(clients: AwsClients): void {
  clients.s3.destroy();
  clients.sqs.destroy();
  clients.db.destroy();
}
