/** A fake set of resource ARNs to resolve infra/access.ts's grants against. */
export const FAKE_ARNS = {
  bucketArn: 'arn:aws:s3:::b',
  tableArn: 'arn:aws:dynamodb:r:a:table/t',
  jobsQueueArn: 'arn:aws:sqs:r:a:jobs',
  webhooksQueueArn: 'arn:aws:sqs:r:a:webhooks',
  webhooksDlqArn: 'arn:aws:sqs:r:a:webhooks-dlq',
  batchQueueArn: 'arn:aws:sqs:r:a:batch',
  webhookSecretsKeyArn: 'arn:aws:kms:r:a:key/k',
  workerServiceArn: 'arn:aws:ecs:r:a:service/c/worker',
};
