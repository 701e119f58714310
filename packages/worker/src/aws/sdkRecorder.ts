import { appendFileSync } from 'node:fs';
import type { S3Client } from '@aws-sdk/client-s3';

/**
 * Tests only: a file path; when set, every AWS SDK command the process's clients send (and every URL they
 * presign) is appended there as one JSON line (`SdkCall`). test/infra/iamCoverage.test.ts maps the lines to
 * IAM actions and checks them against infra/access.ts. Unset (always, in the cloud) nothing is recorded.
 */
export const SDK_RECORD_ENV = 'OBELM_TEST_RECORD_SDK';

/** One command as IAM sees it: who sent it, which operation, on what, and how it ended. */
export interface SdkCall {
  /** The function whose permissions it uses: a Lambda handler's name, or 'worker'. */
  fn: string;
  /** The SDK's command name ('GetObjectCommand'), or 'PresignedPost' (createPresignedPost sends none). */
  command: string;
  /** A presigned URL: nothing was sent, but whoever uses the URL acts with the signer's rights. */
  presigned?: true;
  /** HTTP status of a failed call (404: a read of a missing object). */
  status?: number;
  bucket?: string;
  key?: string;
  prefix?: string;
  table?: string;
  index?: string;
  queueUrl?: string;
  /** A Query's key condition, with its names and string values, for `dynamodb:LeadingKeys`. */
  keyCondition?: { expression: string; names: Record<string, string>; values: Record<string, string> };
}

interface CommandInput {
  Bucket?: string;
  Key?: string;
  Prefix?: string;
  TableName?: string;
  /** BatchGetItem names its table as a key of RequestItems. */
  RequestItems?: Record<string, unknown>;
  IndexName?: string;
  QueueUrl?: string;
  KeyConditionExpression?: string;
  ExpressionAttributeNames?: Record<string, string>;
  ExpressionAttributeValues?: Record<string, unknown>;
}

/** A string attribute value, plain (document client) or marshalled ({ S: '...' }). */
const stringValue = (value: unknown): string | undefined =>
  typeof value === 'string'
    ? value
    : typeof (value as { S?: unknown } | null)?.S === 'string'
      ? (value as { S: string }).S
      : undefined;

/** The resource fields of a command's input, as recorded. */
function describeInput(input: CommandInput): Omit<SdkCall, 'fn' | 'command'> {
  const values = Object.entries(input.ExpressionAttributeValues ?? {}).flatMap(([name, value]) => {
    const text = stringValue(value);
    return text === undefined ? [] : [[name, text] as const];
  });
  return {
    ...(input.Bucket !== undefined ? { bucket: input.Bucket } : {}),
    ...(input.Key !== undefined ? { key: input.Key } : {}),
    ...(input.Prefix !== undefined ? { prefix: input.Prefix } : {}),
    ...(input.TableName !== undefined ? { table: input.TableName } : {}),
    ...(input.TableName === undefined && input.RequestItems
      ? { table: Object.keys(input.RequestItems)[0] }
      : {}),
    ...(input.IndexName !== undefined ? { index: input.IndexName } : {}),
    ...(input.QueueUrl !== undefined ? { queueUrl: input.QueueUrl } : {}),
    ...(input.KeyConditionExpression !== undefined
      ? {
          keyCondition: {
            expression: input.KeyConditionExpression,
            names: input.ExpressionAttributeNames ?? {},
            values: Object.fromEntries(values),
          },
        }
      : {}),
  };
}

/** Appends one call to the record file (small appends to one file are whole lines, across processes). */
export const appendSdkCall = (file: string, call: SdkCall): void =>
  appendFileSync(file, `${JSON.stringify(call)}\n`);

/**
 * Records every command `client` sends as `fn`. Initialize step: once per command (above the retries), and it
 * also runs when a URL is presigned (the presigner resolves the client's stack), which answers `presigned`.
 */
export function recordSdkCalls<C>(client: C, file: string, fn: string): C {
  (client as S3Client).middlewareStack.add(
    (next, context) => async (args) => {
      const call = {
        fn,
        command: context.commandName ?? 'unknown',
        ...describeInput(args.input as CommandInput),
      };
      try {
        const result = await next(args);
        const presigned = (result.output as { presigned?: unknown } | undefined)?.presigned !== undefined;
        appendSdkCall(file, presigned ? { ...call, presigned: true } : call);
        return result;
      } catch (err) {
        const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
        appendSdkCall(file, status === undefined ? call : { ...call, status });
        throw err;
      }
    },
    { step: 'initialize', name: 'obelmSdkRecorder' },
  );
  return client;
}

/** `client` recording as `fn` when the environment names a record file (SDK_RECORD_ENV); else as it is. */
export const recordedWhenAsked = <C>(client: C, env: Record<string, string | undefined>, fn: string): C => {
  const file = env[SDK_RECORD_ENV];
  return file ? recordSdkCalls(client, file, fn) : client;
};
