import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';

export interface WebhookSecretsKeyArgs {
  /** Protected stages keep the key and wait the longest before deleting it. */
  protect: boolean;
}

/**
 * A symmetric KMS key that seals the tenants' webhook signing secrets at rest (the table stores only the
 * ciphertext). The default key policy: the account's IAM policies decide who may use it, and only the Lambdas
 * holding kmsSeal/kmsOpen do. Yearly automatic rotation: old key material stays, so older ciphertexts still open.
 */
export class WebhookSecretsKey extends pulumi.ComponentResource {
  readonly key: aws.kms.Key;

  constructor(name: string, args: WebhookSecretsKeyArgs, opts?: pulumi.ComponentResourceOptions) {
    super('obelm:secrets:WebhookSecretsKey', name, {}, opts);
    this.key = new aws.kms.Key(
      name,
      {
        description: 'obelm: seals webhook signing secrets',
        keyUsage: 'ENCRYPT_DECRYPT',
        customerMasterKeySpec: 'SYMMETRIC_DEFAULT',
        enableKeyRotation: true,
        rotationPeriodInDays: 365,
        // KMS waits 7..30 days before deleting a key; every secret sealed with it is lost after that.
        deletionWindowInDays: args.protect ? 30 : 7,
      },
      { parent: this, protect: args.protect },
    );
    this.registerOutputs({ keyArn: this.key.arn });
  }
}
