import { TABLE } from '@obelm/core';
import type { SdkCall } from '@obelm/worker';
import type { Grant } from '../../infra/access.ts';
import { resolved } from './pulumiMocks.ts';

/**
 * What IAM evaluates for a recorded AWS SDK call (packages/worker/src/aws/sdkRecorder.ts), and a small evaluator
 * of infra/access.ts's grants: enough of IAM for the actions, resources and conditions this service uses.
 */

/** One authorization request: an action on a resource ARN, with the condition keys the request carries. */
export interface IamRequest {
  action: string;
  resource: string;
  context: Record<string, string>;
}

/** Where a call's resource names point: the cloud's ARNs for the names the local stack uses. */
export interface ResourceNames {
  bucket: string;
  bucketArn: string;
  table: string;
  tableArn: string;
  /** Queue URL -> queue ARN. */
  queues: Record<string, string>;
  /** KMS key id or ARN, as a call names it -> key ARN. */
  keys?: Record<string, string>;
}

/**
 * A recorded call. KMS calls also name their key and encryption context (which IAM conditions see as
 * `kms:EncryptionContext:<name>`).
 */
export type RecordedCall = SdkCall & { keyId?: string; encryptionContext?: Record<string, string> };

type Kind = 'object' | 'bucket' | 'table' | 'queue' | 'key';

/**
 * SDK command -> IAM action and the kind of resource it acts on. HeadObject is authorized as s3:GetObject,
 * ListObjectsV2 as s3:ListBucket (with s3:prefix); a presigned URL needs what its command needs; 'PresignedPost'
 * (createPresignedPost signs a form, sends nothing) needs s3:PutObject on its key.
 */
export const IAM_ACTIONS: Record<string, { action: string; kind: Kind }> = {
  GetObjectCommand: { action: 's3:GetObject', kind: 'object' },
  HeadObjectCommand: { action: 's3:GetObject', kind: 'object' },
  PutObjectCommand: { action: 's3:PutObject', kind: 'object' },
  PresignedPost: { action: 's3:PutObject', kind: 'object' },
  DeleteObjectCommand: { action: 's3:DeleteObject', kind: 'object' },
  ListObjectsV2Command: { action: 's3:ListBucket', kind: 'bucket' },
  GetItemCommand: { action: 'dynamodb:GetItem', kind: 'table' },
  PutItemCommand: { action: 'dynamodb:PutItem', kind: 'table' },
  UpdateItemCommand: { action: 'dynamodb:UpdateItem', kind: 'table' },
  DeleteItemCommand: { action: 'dynamodb:DeleteItem', kind: 'table' },
  // Its table is a key of RequestItems: the recorder records it as `table`.
  BatchGetItemCommand: { action: 'dynamodb:BatchGetItem', kind: 'table' },
  QueryCommand: { action: 'dynamodb:Query', kind: 'table' },
  ScanCommand: { action: 'dynamodb:Scan', kind: 'table' },
  SendMessageCommand: { action: 'sqs:SendMessage', kind: 'queue' },
  ReceiveMessageCommand: { action: 'sqs:ReceiveMessage', kind: 'queue' },
  DeleteMessageCommand: { action: 'sqs:DeleteMessage', kind: 'queue' },
  // A batch is authorized as its single action (SQS: no separate batch permission).
  DeleteMessageBatchCommand: { action: 'sqs:DeleteMessage', kind: 'queue' },
  ChangeMessageVisibilityCommand: { action: 'sqs:ChangeMessageVisibility', kind: 'queue' },
  GetQueueAttributesCommand: { action: 'sqs:GetQueueAttributes', kind: 'queue' },
  EncryptCommand: { action: 'kms:Encrypt', kind: 'key' },
  DecryptCommand: { action: 'kms:Decrypt', kind: 'key' },
};

/** The value a Query's key condition binds to the partition key of the table or index it reads. */
function leadingKey(call: SdkCall): string | undefined {
  if (!call.keyCondition) return undefined;
  const { expression, names, values } = call.keyCondition;
  const partitionKey = call.index === TABLE.gsi1.name ? TABLE.gsi1.partitionKey : TABLE.partitionKey;
  for (const [, name = '', value = ''] of expression.matchAll(/([#\w]+)\s*=\s*(:\w+)/g)) {
    if ((names[name] ?? name) === partitionKey) return values[value];
  }
  return undefined;
}

/** The authorization requests behind one recorded call. Throws on a command the table does not know. */
export function requestsOf(call: RecordedCall, names: ResourceNames): IamRequest[] {
  const mapped = IAM_ACTIONS[call.command];
  if (!mapped) throw new Error(`no IAM action for ${call.command}: add it to IAM_ACTIONS`);
  const named = <T>(value: T | undefined, what: string): T => {
    if (value === undefined) throw new Error(`${call.fn} ${call.command} names no ${what}`);
    return value;
  };
  const bucketArn = () => {
    if (named(call.bucket, 'bucket') !== names.bucket) throw new Error(`unknown bucket ${call.bucket}`);
    return names.bucketArn;
  };
  switch (mapped.kind) {
    case 'object': {
      const request = {
        action: mapped.action,
        resource: `${bucketArn()}/${named(call.key, 'key')}`,
        context: {},
      };
      // A read that found nothing: S3 answers 404 only to a caller it also allows s3:ListBucket (without an
      // s3:prefix: no listing was asked for), and 403 to anyone else.
      const missing = call.status === 404 && mapped.action === 's3:GetObject';
      return missing
        ? [request, { action: 's3:ListBucket', resource: names.bucketArn, context: {} }]
        : [request];
    }
    case 'bucket':
      return [
        {
          action: mapped.action,
          resource: bucketArn(),
          context: call.prefix === undefined ? {} : { 's3:prefix': call.prefix },
        },
      ];
    case 'table': {
      if (named(call.table, 'table') !== names.table) throw new Error(`unknown table ${call.table}`);
      const key = leadingKey(call);
      return [
        {
          action: mapped.action,
          resource: call.index ? `${names.tableArn}/index/${call.index}` : names.tableArn,
          context: key === undefined ? {} : { 'dynamodb:LeadingKeys': key },
        },
      ];
    }
    case 'queue': {
      const arn = names.queues[named(call.queueUrl, 'queue URL')];
      if (!arn) throw new Error(`unknown queue ${call.queueUrl}`);
      return [{ action: mapped.action, resource: arn, context: {} }];
    }
    case 'key': {
      const arn = names.keys?.[named(call.keyId, 'KMS key')];
      if (!arn) throw new Error(`unknown KMS key ${call.keyId}`);
      const context = Object.fromEntries(
        Object.entries(call.encryptionContext ?? {}).map(([name, value]) => [
          `kms:EncryptionContext:${name}`,
          value,
        ]),
      );
      return [{ action: mapped.action, resource: arn, context }];
    }
  }
}

/** A grant with its resources resolved to strings. */
export interface ResolvedGrant extends Omit<Grant, 'resources'> {
  name: string;
  resources: string[];
}

export async function resolveGrants(grants: Record<string, Grant>, names: readonly string[]) {
  return Promise.all(
    names.map(async (name): Promise<ResolvedGrant> => {
      const grant = grants[name];
      if (!grant) throw new Error(`no grant ${name}`);
      return { ...grant, name, resources: await Promise.all(grant.resources.map((r) => resolved(r))) };
    }),
  );
}

/** IAM's `*` (any run of characters) and `?` (one) in ARNs and in StringLike values. */
export const globMatches = (pattern: string, value: string): boolean =>
  new RegExp(
    `^${pattern
      .split('')
      .map((c) => (c === '*' ? '.*' : c === '?' ? '.' : c.replace(/[.+^${}()|[\]\\]/g, '\\$&')))
      .join('')}$`,
  ).test(value);

/** One condition of a grant against a request's context (only the operators infra/access.ts uses). */
function conditionHolds(
  { test, variable, values }: { test: string; variable: string; values: string[] },
  context: Record<string, string>,
): boolean {
  const value = context[variable];
  switch (test) {
    case 'StringEquals':
      return value !== undefined && values.includes(value);
    case 'StringLike':
      return value !== undefined && values.some((v) => globMatches(v, value));
    case 'StringLikeIfExists':
      return value === undefined || values.some((v) => globMatches(v, value));
    case 'ForAllValues:StringLike':
      return value === undefined || values.some((v) => globMatches(v, value));
    // A request without the key passes ForAllValues (the empty set): IAM's rule, kept here.
    case 'ForAllValues:StringEquals':
      return value === undefined || values.includes(value);
    default:
      throw new Error(`the evaluator does not know condition ${test}`);
  }
}

/** The grant that allows `request` in one statement (action, resource and every condition), if any. */
export const allowing = (grants: readonly ResolvedGrant[], request: IamRequest): ResolvedGrant | undefined =>
  grants.find(
    (grant) =>
      grant.actions.includes(request.action) &&
      grant.resources.some((resource) => globMatches(resource, request.resource)) &&
      (grant.conditions ?? []).every((condition) => conditionHolds(condition, request.context)),
  );
