import * as aws from '@pulumi/aws';

/**
 * Where the GPU instances run: the account's default VPC and its default subnets (public, no NAT gateway,
 * so nothing is billed while no instance runs). Swap in a dedicated VPC here if a stage needs one.
 */
export function createWorkerNetwork() {
  const vpc = aws.ec2.getVpcOutput({ default: true });
  const subnets = aws.ec2.getSubnetsOutput({
    filters: [
      { name: 'vpc-id', values: [vpc.id] },
      { name: 'default-for-az', values: ['true'] },
    ],
  });
  return { vpcId: vpc.id, subnetIds: subnets.ids, assignPublicIp: true };
}
