import { GetObjectCommand } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { createDeps } from '@obelm/api';
import { awsClientSettings } from '@obelm/core';
import { createAwsClients } from '@obelm/worker';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

/**
 * On Lambda the environment holds temporary keys: key, secret AND session token. Clients that take the key and
 * secret alone sign with an incomplete identity and every call is refused, so the api's and the worker's
 * clients must resolve the session token there, and keep explicit keys for a local endpoint only.
 */

const lambdaEnv = {
  AWS_ACCESS_KEY_ID: 'ASIALAMBDAKEY',
  AWS_SECRET_ACCESS_KEY: 'lambda-secret',
  AWS_SESSION_TOKEN: 'lambda-session-token',
  AWS_REGION: 'eu-west-1',
  AWS_LAMBDA_FUNCTION_NAME: 'obelm-test-CreateJob',
};
const serviceEnv = {
  OBELM_BUCKET: 'obelm-bucket',
  OBELM_TABLE: 'obelm-table',
  OBELM_JOBS_QUEUE_URL: 'https://sqs.eu-west-1.amazonaws.com/123456789012/jobs',
};
/** Variables of this machine that would change what the default chain finds. */
const unrelated = [
  'AWS_PROFILE',
  'AWS_DEFAULT_REGION',
  'AWS_ENDPOINT_URL',
  'AWS_ENDPOINT_URL_S3',
  'AWS_ENDPOINT_URL_SQS',
  'AWS_ENDPOINT_URL_DYNAMODB',
  'AWS_CONTAINER_CREDENTIALS_RELATIVE_URI',
  'AWS_CONTAINER_CREDENTIALS_FULL_URI',
];

type Client = { config: { credentials: () => Promise<{ accessKeyId: string; sessionToken?: string }> } };
const credentialsOf = (client: unknown) => (client as Client).config.credentials();

beforeEach(() => {
  for (const name of unrelated) vi.stubEnv(name, undefined);
  for (const [name, value] of Object.entries({ ...lambdaEnv, ...serviceEnv })) vi.stubEnv(name, value);
});
afterEach(() => {
  vi.unstubAllEnvs();
});

describe('clients under a Lambda environment', () => {
  it('the API signs with the session token, presigned URLs included', async () => {
    const deps = createDeps(process.env);
    for (const client of [deps.s3, deps.sqs, deps.db]) {
      expect(await credentialsOf(client)).toMatchObject({
        accessKeyId: lambdaEnv.AWS_ACCESS_KEY_ID,
        sessionToken: lambdaEnv.AWS_SESSION_TOKEN,
      });
    }
    expect(await deps.s3.config.region()).toBe('eu-west-1');
    const url = new URL(
      await getSignedUrl(deps.s3, new GetObjectCommand({ Bucket: 'obelm-bucket', Key: 'jobs/j/out.png' })),
    );
    expect(url.searchParams.get('X-Amz-Security-Token')).toBe(lambdaEnv.AWS_SESSION_TOKEN);
  });

  it('the worker signs with the session token', async () => {
    const clients = createAwsClients(process.env);
    for (const client of [clients.s3, clients.sqs, clients.db]) {
      expect(await credentialsOf(client)).toMatchObject({ sessionToken: lambdaEnv.AWS_SESSION_TOKEN });
    }
  });
});

describe('clients for a local endpoint', () => {
  const localEnv = {
    ...serviceEnv,
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'S3RVER',
    AWS_SECRET_ACCESS_KEY: 'S3RVER',
    AWS_ENDPOINT_URL_S3: 'http://127.0.0.1:4569',
    AWS_ENDPOINT_URL_SQS: 'http://127.0.0.1:4570',
    AWS_ENDPOINT_URL_DYNAMODB: 'http://127.0.0.1:4571',
  };

  it('use the keys of the record they are given, not the process environment', async () => {
    const deps = createDeps(localEnv);
    const clients = createAwsClients(localEnv);
    for (const client of [deps.s3, deps.sqs, deps.db, clients.s3, clients.sqs, clients.db]) {
      const credentials = await credentialsOf(client);
      expect(credentials.accessKeyId).toBe('S3RVER');
      expect(credentials.sessionToken).toBeUndefined();
    }
    const endpoint = await deps.s3.config.endpoint?.();
    expect(endpoint?.port).toBe(4569);
  });

  it('are the only case with explicit credentials', () => {
    expect(awsClientSettings(lambdaEnv, 'S3')).toEqual({ region: 'eu-west-1' });
    expect(awsClientSettings(localEnv, 'SQS')).toEqual({
      region: 'us-east-1',
      endpoint: 'http://127.0.0.1:4570',
      credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    });
  });
});
