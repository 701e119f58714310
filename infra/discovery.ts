import { stageParameters, type TenantLimits } from '@obelm/core';
import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';

export interface StageDiscoveryArgs {
  /** Names the parameters (core `stageParameters`), as infra/workerImage.ts's. */
  stage: string;
  table: pulumi.Input<string>;
  /** The bucket, where `obelm admin models add --stage` uploads model bundles. */
  bucket: pulumi.Input<string>;
  /** The stage's default tenant limits, as the API reads them from OBELM_TENANT_LIMITS. */
  tenantLimits: TenantLimits;
}

/**
 * What `obelm admin --stage <name>` needs to find a deployed stage, as SSM parameters in its account and region:
 * the table's and the bucket's names and the stage's default tenant limits. Read by operators' credentials only;
 * nothing at runtime reads them.
 */
export class StageDiscovery extends pulumi.ComponentResource {
  readonly table: aws.ssm.Parameter;
  readonly bucket: aws.ssm.Parameter;
  readonly tenantLimits: aws.ssm.Parameter;

  constructor(name: string, args: StageDiscoveryArgs, opts?: pulumi.ComponentResourceOptions) {
    super('obelm:ops:StageDiscovery', name, {}, opts);
    const names = stageParameters(args.stage);
    // insecureValue: neither is a secret, and a plain value shows in plans and the console.
    const parameter = (id: string, parameterName: string, value: pulumi.Input<string>, description: string) =>
      new aws.ssm.Parameter(
        `${name}${id}`,
        { name: parameterName, type: 'String', insecureValue: value, description },
        { parent: this },
      );
    this.table = parameter('Table', names.table, args.table, 'obelm: the DynamoDB table of this stage');
    this.bucket = parameter('Bucket', names.bucket, args.bucket, 'obelm: the S3 bucket of this stage');
    this.tenantLimits = parameter(
      'TenantLimits',
      names.tenantLimits,
      JSON.stringify(args.tenantLimits),
      'obelm: the default tenant limits of this stage (OBELM_TENANT_LIMITS over core defaults)',
    );
    this.registerOutputs({});
  }
}
