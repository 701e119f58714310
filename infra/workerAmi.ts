import { createHash } from 'node:crypto';
import { BUNDLE_CACHE_MARKER, s3Keys } from '@obelm/core';
import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';
import { assumedBy, type Grant, policyDocument } from './access.ts';
import { AmiLifecycle, BAKE_TAGS, fleetOf } from './amiLifecycle.ts';
import { InfraConfigError } from './errors.ts';
import { rootVolume } from './rootVolume.ts';

/** Build instances: no GPU needed to pull an image and copy files; types every AZ of a region offers. */
const BUILD_INSTANCE_TYPES = ['m6i.xlarge', 'm5.xlarge'];

export interface WorkerAmiArgs {
  /** The worker image, pinned by digest: `<account>.dkr.ecr.<region>.amazonaws.com/<repo>@sha256:<hex>`. */
  image: pulumi.Input<string>;
  /** Model ids whose bundles (`models/<id>/` of `bucket`) are copied into the host model cache. */
  models: string[];
  /** The stage bucket (name and ARN) that holds the model bundles. */
  bucket: { name: pulumi.Input<string>; arn: pulumi.Input<string> };
  /** The host model cache (MODEL_CACHE.hostPath) and the uid of the image's user, who owns it. */
  cacheDir: string;
  cacheOwner: number;
  /** SSM parameter of the parent AMI (the fleet's own, ECS_GPU_AMI_PARAMETER). */
  parentAmiParameter: string;
  /** Root volume of the build instance; the launch templates' volume must be at least this big. */
  rootVolumeGiB: number;
  /** Where the build instance runs: a subnet with a route to S3, ECR and SSM, and an egress-only group. */
  subnetId: pulumi.Input<string>;
  securityGroupId: pulumi.Input<string>;
}

/**
 * An AMI baked by EC2 Image Builder from the fleet's ECS GPU AMI, with the worker image already in Docker's
 * store and the chosen model bundles already in the host model cache, each exactly as the worker leaves a
 * complete download (`<cacheDir>/<id>/` plus its source marker). An instance launched from it skips the image
 * pull and the model fetch of a cold start.
 *
 * The component's version is a hash of its document, so a new image digest or model list (or bucket) makes a
 * new component, recipe and image on the next deploy; an unchanged one builds nothing. A superseded image is
 * left, with its AMI and snapshots, to the lifecycle policy that `retireSuperseded` creates (amiLifecycle.ts).
 */
export class WorkerAmi extends pulumi.ComponentResource {
  /** The baked AMI's id, once Image Builder has built it (the deploy waits for the build). */
  readonly imageId: pulumi.Output<string>;
  readonly image: aws.imagebuilder.Image;
  private readonly name: string;
  /** The image's `BAKE_TAGS` values: the fleet it belongs to, and which bake it is. */
  private readonly fleet: string;
  private readonly bake: pulumi.Output<string>;

  constructor(name: string, args: WorkerAmiArgs, opts?: pulumi.ComponentResourceOptions) {
    super('obelm:worker:WorkerAmi', name, {}, opts);
    this.name = name;
    this.fleet = fleetOf(name);
    const parent = { parent: this };
    const repository = pulumi.output(args.image).apply(ecrRepositoryOf);

    const document = pulumi.all([args.image, repository, args.bucket.name]).apply(([image, ecr, bucket]) =>
      JSON.stringify(
        componentDocument({
          image,
          registry: ecr.registry,
          region: ecr.region,
          bucket,
          models: args.models,
          cacheDir: args.cacheDir,
          cacheOwner: args.cacheOwner,
        }),
      ),
    );
    const version = document.apply(versionOf);
    const component = new aws.imagebuilder.Component(
      `${name}Component`,
      {
        platform: 'Linux',
        version,
        // JSON is YAML: AWSTOE reads the document as YAML.
        data: document,
        description: 'obelm: pre-pull the worker image and cache the model bundles',
      },
      // Kept when superseded, as the recipe is: the retained image below depends on them (Image Builder refuses
      // to delete a component or recipe that something still uses); they cost nothing.
      { ...parent, retainOnDelete: true },
    );
    const recipe = new aws.imagebuilder.ImageRecipe(
      `${name}Recipe`,
      {
        parentImage: `ssm:${args.parentAmiParameter}`,
        version,
        components: [{ componentArn: component.arn }],
        blockDeviceMappings: [rootVolume(args.rootVolumeGiB)],
      },
      { ...parent, retainOnDelete: true },
    );

    const role = new aws.iam.Role(
      `${name}BuildRole`,
      { assumeRolePolicy: assumedBy('ec2.amazonaws.com') },
      parent,
    );
    for (const [id, policy] of [
      // What Image Builder itself needs on a build instance: its components, its logs; and SSM, which runs them.
      ['ImageBuilder', 'arn:aws:iam::aws:policy/EC2InstanceProfileForImageBuilder'],
      ['Ssm', 'arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore'],
    ] as const) {
      new aws.iam.RolePolicyAttachment(`${name}Build${id}`, { role: role.name, policyArn: policy }, parent);
    }
    new aws.iam.RolePolicy(
      `${name}BuildAccess`,
      { role: role.id, policy: policyDocument(buildGrants(repository.arn, args.bucket.arn, args.models)) },
      parent,
    );
    const profile = new aws.iam.InstanceProfile(`${name}BuildProfile`, { role: role.name }, parent);
    const infrastructure = new aws.imagebuilder.InfrastructureConfiguration(
      `${name}Infrastructure`,
      {
        instanceProfileName: profile.name,
        instanceTypes: BUILD_INSTANCE_TYPES,
        subnetId: args.subnetId,
        securityGroupIds: [args.securityGroupId],
        // A failed build bills nothing afterwards; its reason stays on the image (status, workflow logs).
        terminateInstanceOnFailure: true,
        instanceMetadataOptions: { httpTokens: 'required', httpPutResponseHopLimit: 1 },
      },
      parent,
    );
    // One bake per recipe: each is created for one document and root volume (autonamed, so a rebuild of an
    // earlier document gets a new one).
    this.bake = recipe.arn;
    this.image = new aws.imagebuilder.Image(
      `${name}Image`,
      {
        imageRecipeArn: recipe.arn,
        infrastructureConfigurationArn: infrastructure.arn,
        // The component's validate phase checks the result on the build instance; no second test instance.
        imageTestsConfiguration: { imageTestsEnabled: false },
        tags: { [BAKE_TAGS.fleet]: this.fleet, [BAKE_TAGS.bake]: this.bake },
      },
      {
        ...parent,
        // A build pulls ~8 GB and copies the bundles: longer than the provider's default wait.
        customTimeouts: { create: '90m' },
        // Replaced, it stays for the lifecycle policy, which deletes its AMI and snapshots too; Pulumi's delete
        // would remove the Image Builder image only and orphan them out of the policy's reach.
        retainOnDelete: true,
      },
    );
    this.imageId = this.image.outputResources.apply((resources) => {
      const ami = resources[0]?.amis[0]?.image;
      if (!ami) throw new Error(`${name}: Image Builder reported no AMI`);
      return ami;
    });
    this.registerOutputs({ imageId: this.imageId });
  }

  /**
   * The lifecycle policy that deletes this fleet's superseded bakes (AMIs and snapshots included) and never the
   * current one. Call it once, after creating every launch template that launches `imageId`: the policy's
   * protection moves to a new bake only once they have.
   */
  retireSuperseded(launchTemplates: pulumi.Resource[]): AmiLifecycle {
    return new AmiLifecycle(
      `${this.name}Lifecycle`,
      { fleet: this.fleet, inUse: this.bake, launchTemplates },
      { parent: this },
    );
  }
}

/** `<account>.dkr.ecr.<region>.amazonaws.com/<repo>@sha256:...` -> its registry, region and repository ARN. */
export function ecrRepositoryOf(image: string): { registry: string; region: string; arn: string } {
  const match = /^((\d{12})\.dkr\.ecr\.([a-z0-9-]+)\.amazonaws\.com)\/([^@:]+)@sha256:[0-9a-f]{64}$/.exec(
    image,
  );
  if (!match) {
    throw new InfraConfigError(
      'baked_ami_image_not_ecr',
      `worker image ${image} is not an ECR image pinned by digest; the baked AMI pulls from the stage's ECR`,
    );
  }
  const [, registry = '', account = '', region = '', repository = ''] = match;
  return { registry, region, arn: `arn:aws:ecr:${region}:${account}:repository/${repository}` };
}

/** The build instance may pull this one repository and read these model prefixes; nothing else. */
function buildGrants(
  repositoryArn: pulumi.Input<string>,
  bucketArn: pulumi.Input<string>,
  models: string[],
): Grant[] {
  const prefixes = models.map((id) => s3Keys.model(id));
  return [
    // Account-wide by design: the token is for the registry, and pulling is limited to the repository below.
    { actions: ['ecr:GetAuthorizationToken'], resources: ['*'] },
    {
      actions: ['ecr:BatchGetImage', 'ecr:GetDownloadUrlForLayer', 'ecr:BatchCheckLayerAvailability'],
      resources: [repositoryArn],
    },
    ...(prefixes.length === 0
      ? []
      : [
          {
            actions: ['s3:ListBucket'],
            resources: [bucketArn],
            conditions: [{ test: 'StringLike', variable: 's3:prefix', values: prefixes.map((p) => `${p}*`) }],
          },
          {
            actions: ['s3:GetObject'],
            resources: prefixes.map((p) => pulumi.interpolate`${bucketArn}/${p}*`),
          },
        ]),
  ];
}

/** A semantic version (each part < 2^30, Image Builder's limit) that changes whenever `document` does. */
function versionOf(document: string): string {
  const hash = createHash('sha256').update(document).digest();
  return `1.${hash.readUInt32BE(0) >>> 3}.${hash.readUInt32BE(4) >>> 3}`;
}

interface BakeArgs {
  image: string;
  registry: string;
  region: string;
  bucket: string;
  models: string[];
  cacheDir: string;
  cacheOwner: number;
}

/** The AWSTOE document: pull the image, cache the bundles, leave no agent state or registry token behind. */
function componentDocument(args: BakeArgs) {
  const bash = (name: string, script: string) => ({
    name,
    action: 'ExecuteBash',
    inputs: { commands: [script] },
  });
  return {
    name: 'obelm-worker-cache',
    description: 'Pre-pull the obelm worker image and cache its model bundles',
    schemaVersion: 1.0,
    phases: [
      {
        name: 'build',
        steps: [
          bash('PullWorkerImage', pullImageScript(args)),
          bash(
            'CacheModelBundles',
            [
              cacheModelsScript(args),
              // The worker (the image's user) writes its locks and later downloads there, and replaces stale copies.
              `chown -R ${args.cacheOwner}:${args.cacheOwner} ${args.cacheDir}`,
            ].join('\n'),
          ),
          // An instance launched from the AMI must register as itself, not as the build instance.
          bash('ResetEcsAgent', 'set -euo pipefail\nsystemctl stop ecs || true\nrm -rf /var/lib/ecs/data/*'),
        ],
      },
      {
        name: 'validate',
        steps: [
          bash(
            'CheckCache',
            [
              'set -euo pipefail',
              `docker image inspect ${args.image} > /dev/null`,
              ...args.models.map((id) => `test -f ${bundleDir(args.cacheDir, id)}/${BUNDLE_CACHE_MARKER}`),
            ].join('\n'),
          ),
        ],
      },
    ],
  };
}

/** Docker pull by digest; the registry token is removed again, so the AMI holds none. */
function pullImageScript(args: Pick<BakeArgs, 'image' | 'registry' | 'region'>): string {
  return [
    'set -euo pipefail',
    // The AWS CLI, when the parent AMI lacks it (AL2023's package).
    'command -v aws > /dev/null || dnf install -y awscli-2',
    `aws ecr get-login-password --region ${args.region} | docker login --username AWS --password-stdin ${args.registry}`,
    `docker pull ${args.image}`,
    `docker logout ${args.registry}`,
  ].join('\n');
}

/** `<cacheDir>/<id>`: where the worker keeps a bundle (bundleFetch.ts). */
const bundleDir = (cacheDir: string, id: string) => `${cacheDir}/${id}`;

/**
 * Copies each model's S3 prefix into `<cacheDir>/<id>/` as the worker's own fetch would leave it: every object
 * under its path inside the prefix, then the source marker listing exactly those objects (path, ETag, size,
 * sorted as JavaScript sorts strings) with the prefix's s3:// URL. The worker compares that marker with a fresh
 * listing and downloads nothing while they match. Each download is conditional on the listed ETag, so the
 * marker describes the bytes on disk. Needs bash, python3 and the AWS CLI (all on the ECS AMI, or installed).
 */
export function cacheModelsScript(args: Pick<BakeArgs, 'bucket' | 'models' | 'cacheDir' | 'region'>): string {
  return [
    'set -euo pipefail',
    'command -v aws > /dev/null || dnf install -y awscli-2',
    `export AWS_DEFAULT_REGION=${args.region}`,
    `mkdir -p ${args.cacheDir}`,
    ...args.models.map(
      (id) =>
        `python3 - ${args.bucket} ${s3Keys.model(id)} ${id} ${args.cacheDir} <<'PY'\n${COPY_BUNDLE_PY}PY`,
    ),
  ].join('\n');
}

/** python3 (stdlib) + AWS CLI: argv = bucket, prefix (with its trailing slash), model id, cache folder. */
const COPY_BUNDLE_PY = `import json, os, subprocess, sys, tempfile
bucket, prefix, model, cache = sys.argv[1:5]

def s3api(*args):
    out = subprocess.run(['aws', 's3api', *args, '--output', 'json'], check=True, stdout=subprocess.PIPE).stdout
    return json.loads(out) if out.strip() else {}

objects = []
for entry in s3api('list-objects-v2', '--bucket', bucket, '--prefix', prefix).get('Contents') or []:
    path = entry['Key'][len(prefix):]
    if path == '' or path.endswith('/'):
        continue
    if any(part in ('', '.', '..') for part in path.split('/')):
        sys.exit(f"model bundle object '{entry['Key']}' has an unsafe path")
    objects.append({'path': path, 'etag': entry.get('ETag', ''), 'size': entry.get('Size', 0)})
if not objects:
    sys.exit(f"model '{model}': s3://{bucket}/{prefix} is empty")
objects.sort(key=lambda o: o['path'].encode('utf-16-be'))
staging = tempfile.mkdtemp(prefix=f'.{model}.tmp-', dir=cache)
os.chmod(staging, 0o755)
for o in objects:
    target = os.path.join(staging, o['path'])
    os.makedirs(os.path.dirname(target), exist_ok=True)
    s3api('get-object', '--bucket', bucket, '--key', prefix + o['path'], '--if-match', o['etag'], target)
    if os.path.getsize(target) != o['size']:
        sys.exit(f"{o['path']}: downloaded {os.path.getsize(target)} bytes, listed {o['size']}")
with open(os.path.join(staging, '${BUNDLE_CACHE_MARKER}'), 'w') as marker:
    json.dump({'source': f's3://{bucket}/{prefix}', 'objects': objects}, marker)
os.rename(staging, os.path.join(cache, model))
print(f"model '{model}': {len(objects)} objects cached")
`;
