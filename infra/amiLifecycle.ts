import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';
import { assumedBy } from './access.ts';

/**
 * How long a superseded bake survives, counted from its build (Image Builder's AGE filter measures an image's
 * creation date). A week: time to point a launch template back at the previous AMI by hand while a bad bake is
 * looked into, at about $1 per AMI-month (docs/deploy.md). A redeploy of an older digest builds again instead.
 *
 * An age and not "keep the N newest": Image Builder counts retention (COUNT, and AGE's retainAtLeast) per recipe
 * version, and every bake here has a recipe version of its own (a hash of its document), so each version would
 * hold one image, always within any count, and nothing would ever be deleted.
 */
export const BAKE_RETENTION_DAYS = 7;

/** The tags on every Image Builder image of a WorkerAmi, which the lifecycle policy selects and spares by. */
export const BAKE_TAGS = {
  /** Which fleet of which stack the image belongs to: the policy's whole scope (`fleetOf`). */
  fleet: 'obelm:baked-ami',
  /** Which bake it is (its recipe's ARN): the policy spares the one the launch templates launch. */
  bake: 'obelm:bake',
} as const;

/** The Image Builder service principal that runs lifecycle policies, and the AWS managed policy it runs them with. */
export const LIFECYCLE_EXECUTION = {
  principal: 'imagebuilder.amazonaws.com',
  policyArn: 'arn:aws:iam::aws:policy/service-role/EC2ImageBuilderLifecycleExecutionPolicy',
} as const;

/** `<project>/<stack>/<component>`: unique per fleet in an account and region, so no stage selects another's images. */
export function fleetOf(component: string): string {
  return `${pulumi.getProject()}/${pulumi.getStack()}/${component}`;
}

export interface AmiLifecycleArgs {
  /** The fleet's `BAKE_TAGS.fleet` value (`fleetOf`). */
  fleet: string;
  /** The `BAKE_TAGS.bake` value of the image whose AMI the launch templates launch now: never deleted. */
  inUse: pulumi.Input<string>;
  /**
   * The launch templates that launch it. The policy moves its protection to a new bake only after they have
   * moved to its AMI; a deploy that fails before (a failed build included) leaves the old AMI protected.
   */
  launchTemplates: pulumi.Resource[];
}

/**
 * Deletes a fleet's superseded baked AMIs with their EBS snapshots: an EC2 Image Builder lifecycle policy, run by
 * Image Builder once a day, over the Image Builder images tagged with the fleet; each older than
 * BAKE_RETENTION_DAYS is deleted with its AMI and the AMI's snapshots, except the one in use.
 *
 * A deploy leaves each superseded image to this policy (WorkerAmi's image has `retainOnDelete`): Pulumi deleting
 * it would delete only the Image Builder image, never its AMI or snapshots, and an AMI without its image is out
 * of every lifecycle policy's reach.
 */
export class AmiLifecycle extends pulumi.ComponentResource {
  readonly role: aws.iam.Role;
  readonly policy: aws.imagebuilder.LifecyclePolicy;

  constructor(name: string, args: AmiLifecycleArgs, opts?: pulumi.ComponentResourceOptions) {
    super('obelm:worker:AmiLifecycle', name, {}, opts);
    const parent = { parent: this };
    this.role = new aws.iam.Role(
      `${name}Role`,
      { assumeRolePolicy: assumedBy(LIFECYCLE_EXECUTION.principal) },
      parent,
    );
    // Deregister and delete only what Image Builder made (its CreatedBy tag), delete the images themselves.
    const execution = new aws.iam.RolePolicyAttachment(
      `${name}Execution`,
      { role: this.role.name, policyArn: LIFECYCLE_EXECUTION.policyArn },
      parent,
    );
    this.policy = new aws.imagebuilder.LifecyclePolicy(
      `${name}Policy`,
      {
        description: `obelm: delete the baked AMIs of ${args.fleet} older than ${BAKE_RETENTION_DAYS} days, except the one in use`,
        executionRole: this.role.arn,
        resourceType: 'AMI_IMAGE',
        resourceSelection: { tagMap: { [BAKE_TAGS.fleet]: args.fleet } },
        policyDetails: [
          {
            // The image, its AMI and the AMI's snapshots (the bill); an AMI bake distributes no container.
            action: { type: 'DELETE', includeResources: { amis: true, snapshots: true } },
            // No retainAtLeast: it counts per recipe version too, so it would keep every bake (see above).
            filter: { type: 'AGE', value: BAKE_RETENTION_DAYS, unit: 'DAYS' },
            // Evaluated on the image's own tags, after the age: the bake in use stays however old it is.
            exclusionRules: { tagMap: { [BAKE_TAGS.bake]: args.inUse } },
          },
        ],
      },
      { ...parent, dependsOn: [execution, ...args.launchTemplates] },
    );
    this.registerOutputs({ policyArn: this.policy.arn });
  }
}
