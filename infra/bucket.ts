import { BUCKET_CORS, S3_PREFIXES } from '@obelm/core';
import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';
import { InfraConfigError } from './errors.ts';

export interface ObelmBucketArgs {
  /** Days job outputs (jobs/, batch-out/) and batch inputs (batch/) are kept. Uploads expire after one day. */
  outputRetentionDays: number;
  /** Keep the bucket when the stage is removed. */
  protect: boolean;
}

/**
 * The private, encrypted bucket with its lifecycle rules; its browser CORS rule comes with `allowBrowserOrigins`,
 * once the origins are known.
 */
export class ObelmBucket extends pulumi.ComponentResource {
  readonly bucket: aws.s3.Bucket;
  private readonly resourceName: string;

  constructor(name: string, args: ObelmBucketArgs, opts?: pulumi.ComponentResourceOptions) {
    super('obelm:data:ObelmBucket', name, {}, opts);
    this.resourceName = name;
    if (!(args.outputRetentionDays >= 1)) {
      throw new InfraConfigError('bad_retention', `${name}: outputRetentionDays must be >= 1`);
    }
    const parent = { parent: this };
    this.bucket = new aws.s3.Bucket(
      name,
      { forceDestroy: !args.protect },
      { ...parent, protect: args.protect },
    );
    const bucket = this.bucket.id;

    const publicAccessBlock = new aws.s3.BucketPublicAccessBlock(
      `${name}Private`,
      {
        bucket,
        blockPublicAcls: true,
        blockPublicPolicy: true,
        ignorePublicAcls: true,
        restrictPublicBuckets: true,
      },
      parent,
    );
    // ACLs off: every object belongs to the bucket owner, access is IAM only.
    new aws.s3.BucketOwnershipControls(
      `${name}Ownership`,
      { bucket, rule: { objectOwnership: 'BucketOwnerEnforced' } },
      parent,
    );
    new aws.s3.BucketServerSideEncryptionConfiguration(
      `${name}Encryption`,
      {
        bucket,
        rules: [{ applyServerSideEncryptionByDefault: { sseAlgorithm: 'AES256' }, bucketKeyEnabled: true }],
      },
      parent,
    );
    new aws.s3.BucketPolicy(
      `${name}TlsOnly`,
      { bucket, policy: denyInsecureTransport(this.bucket.arn) },
      // S3 rejects concurrent changes to a bucket's access settings.
      { ...parent, dependsOn: [publicAccessBlock] },
    );

    const expire = (id: string, prefix: string, days: number) => ({
      id,
      status: 'Enabled',
      filter: { prefix },
      expiration: { days },
    });
    new aws.s3.BucketLifecycleConfiguration(
      `${name}Lifecycle`,
      {
        bucket,
        rules: [
          // An upload is the input of a job created right after it; a day is plenty.
          expire('uploads', S3_PREFIXES.uploads, 1),
          expire('job-outputs', S3_PREFIXES.jobs, args.outputRetentionDays),
          expire('batch-outputs', S3_PREFIXES.batchOut, args.outputRetentionDays),
          // A batch's dropped inputs are kept as long as the outputs made from them.
          expire('batch-inputs', S3_PREFIXES.batch, args.outputRetentionDays),
          {
            id: 'abort-multipart',
            status: 'Enabled',
            filter: {},
            abortIncompleteMultipartUpload: { daysAfterInitiation: 1 },
          },
        ],
      },
      parent,
    );
    this.registerOutputs({ bucketName: this.bucket.bucket });
  }

  /**
   * The bucket's browser CORS rule (core BUCKET_CORS: uploads with the presigned POST from POST /v1/uploads,
   * downloads with presigned GETs) for `origins`. A resource of its own, so it may name origins that are known only
   * after the bucket (the playground site's, which is built with the API's URL, which needs the bucket).
   */
  allowBrowserOrigins(origins: pulumi.Input<pulumi.Input<string>[]>): aws.s3.BucketCorsConfiguration {
    const { allowedMethods, allowedHeaders, exposeHeaders, maxAgeSeconds } = BUCKET_CORS;
    return new aws.s3.BucketCorsConfiguration(
      `${this.resourceName}Cors`,
      {
        bucket: this.bucket.id,
        corsRules: [
          {
            allowedOrigins: origins,
            allowedMethods: [...allowedMethods],
            allowedHeaders: [...allowedHeaders],
            exposeHeaders: [...exposeHeaders],
            maxAgeSeconds,
          },
        ],
      },
      { parent: this },
    );
  }

  /**
   * Sends an S3 event to `queue` for every object created under batch/ (each starts one job: the batch trigger
   * consumes the queue). Through a queue rather than a direct invocation: S3 delivers each event at least once
   * and never retries a failed invocation, while a queue keeps what the trigger could not handle for a retry,
   * then its DLQ.
   */
  notifyBatchUploads(queue: {
    arn: pulumi.Input<string>;
    url: pulumi.Input<string>;
  }): aws.s3.BucketNotification {
    const accountId = aws.getCallerIdentityOutput({}, { parent: this }).accountId;
    const policy = new aws.sqs.QueuePolicy(
      'BatchUploadsSend',
      {
        queueUrl: queue.url,
        policy: pulumi.jsonStringify({
          Version: '2012-10-17',
          Statement: [
            {
              Sid: 'BucketNotifications',
              Effect: 'Allow',
              Principal: { Service: 's3.amazonaws.com' },
              Action: 'sqs:SendMessage',
              Resource: queue.arn,
              // Bucket names are global: a bucket of this name in another account (after this one is deleted)
              // must not be able to send, hence the account as well as the bucket.
              Condition: {
                ArnEquals: { 'aws:SourceArn': this.bucket.arn },
                StringEquals: { 'aws:SourceAccount': accountId },
              },
            },
          ],
        }),
      },
      { parent: this },
    );
    return new aws.s3.BucketNotification(
      'BatchUploads',
      {
        bucket: this.bucket.id,
        queues: [{ queueArn: queue.arn, events: ['s3:ObjectCreated:*'], filterPrefix: S3_PREFIXES.batch }],
      },
      // S3 checks that it may send to the queue when the notification is set.
      { parent: this, dependsOn: [policy] },
    );
  }
}

function denyInsecureTransport(bucketArn: pulumi.Output<string>): pulumi.Output<string> {
  return pulumi.jsonStringify({
    Version: '2012-10-17',
    Statement: [
      {
        Sid: 'DenyInsecureTransport',
        Effect: 'Deny',
        Principal: '*',
        Action: 's3:*',
        Resource: [bucketArn, pulumi.interpolate`${bucketArn}/*`],
        Condition: { Bool: { 'aws:SecureTransport': 'false' } },
      },
    ],
  });
}
