/**
 * How an AWS client is set up from an environment record, for the api's and the worker's clients alike.
 * Plain data: core has no AWS SDK; each package passes these to its own clients.
 *
 * Credentials: in the cloud the SDK's default chain finds them (on Lambda the environment's temporary keys
 * WITH their session token; on ECS the task role through the container credentials endpoint). Explicit keys
 * would drop what the chain knows (the session token, refreshes), so they are set only when a local endpoint
 * is configured: the stand-ins of packages/local take fixed keys, and the local stack passes its own record
 * rather than process.env, which the default chain would read instead.
 */

export type AwsService = 'S3' | 'SQS' | 'DYNAMODB';

export interface StaticAwsCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

export interface AwsClientSettings {
  region?: string;
  /** Only with a local endpoint; absent means the SDK's default credential chain. */
  credentials?: StaticAwsCredentials;
  /** The service's AWS_ENDPOINT_URL_<SERVICE> (or AWS_ENDPOINT_URL), when one is set. */
  endpoint?: string;
}

type Env = Record<string, string | undefined>;

const SERVICES: readonly AwsService[] = ['S3', 'SQS', 'DYNAMODB'];

const endpointOf = (env: Env, service: AwsService): string | undefined =>
  env[`AWS_ENDPOINT_URL_${service}`] ?? env['AWS_ENDPOINT_URL'];

/** True when any client would talk to a configured endpoint instead of AWS. */
export const usesLocalEndpoint = (env: Env): boolean =>
  SERVICES.some((service) => endpointOf(env, service) !== undefined);

export function awsClientSettings(env: Env, service: AwsService): AwsClientSettings {
  const region = env['AWS_REGION'] ?? env['AWS_DEFAULT_REGION'];
  const endpoint = endpointOf(env, service);
  const accessKeyId = env['AWS_ACCESS_KEY_ID'];
  const secretAccessKey = env['AWS_SECRET_ACCESS_KEY'];
  const sessionToken = env['AWS_SESSION_TOKEN'];
  const explicit = usesLocalEndpoint(env) && accessKeyId && secretAccessKey;
  return {
    ...(region ? { region } : {}),
    ...(explicit
      ? { credentials: { accessKeyId, secretAccessKey, ...(sessionToken ? { sessionToken } : {}) } }
      : {}),
    ...(endpoint ? { endpoint } : {}),
  };
}
