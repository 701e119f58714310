/**
 * The baked worker AMI (gpu.bakedAmi): absent by default; when on, an Image Builder image whose component pulls the
 * pinned image and copies each chosen bundle into the host cache exactly as the worker leaves a complete download
 * (proved by running the copy script against the local S3 stand-in, then the worker's own fetch), and both launch
 * templates start from that image's AMI.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { CreateBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { BUNDLE_CACHE_MARKER } from '@obelm/core';
import { bundleSourceOf, fetchBundle } from '@obelm/worker';
import * as pulumi from '@pulumi/pulumi';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BAKE_RETENTION_DAYS } from '../../infra/amiLifecycle.ts';
import { ECS_GPU_AMI_PARAMETER, MODEL_CACHE } from '../../infra/gpuWorker.ts';
import { cacheModelsScript } from '../../infra/workerAmi.ts';
import { type StandIn, startS3 } from '../../packages/local/src/standins.ts';
import { settingsFor, validateSettings } from '../../stacks/settings.ts';
import { baseGpuWorkerArgs } from './gpuWorkerArgs.ts';
import { ofType, one, type Recorded, recordResources, resolved, settle } from './pulumiMocks.ts';

const run = promisify(execFile);
const image = `123456789012.dkr.ecr.eu-west-1.amazonaws.com/obelm-prod-worker@sha256:${'ab'.repeat(32)}`;
const bucket = { name: 'obelm-prod-storage', arn: 'arn:aws:s3:::obelm-prod-storage' };
const models = ['sd15', 'sd15-fp16'];
const common = { ...baseGpuWorkerArgs, subnetIds: ['subnet-a', 'subnet-b'], image, modelBucket: bucket };
/** What the worker is told in the cloud (stacks/index.ts): the bucket, and its default bundle as an s3:// URL. */
const workerConfig = { OBELM_BUCKET: bucket.name, OBELM_MODEL_BUNDLE: `s3://${bucket.name}/models/sd15/` };

/** Names of the resources registered with `retainOnDelete` (the recorder keeps no resource options). */
function recordRetained(): Set<string> {
  const names = new Set<string>();
  const monitor = pulumi.runtime.getMonitor() as unknown as {
    registerResource(
      req: { getName(): string; getRetainondelete(): boolean | undefined },
      callback: unknown,
    ): unknown;
  };
  const register = monitor.registerResource.bind(monitor);
  monitor.registerResource = (req, callback) => {
    if (req.getRetainondelete()) names.add(req.getName());
    return register(req, callback);
  };
  return names;
}

let recorded: Recorded[];
let retained: Set<string>;
beforeAll(async () => {
  recorded = await recordResources();
  retained = recordRetained();
  const { GpuWorker } = await import('../../infra/gpuWorker.ts');
  new GpuWorker('Plain', { ...common, ...settingsFor('production').gpu });
  const staging = settingsFor('staging').gpu;
  new GpuWorker('Baked', { ...common, ...staging, warmPool: { size: 1 }, bakedAmi: { models } });
  new GpuWorker('Same', { ...common, ...staging, bakedAmi: { models } });
  new GpuWorker('Other', { ...common, ...staging, bakedAmi: { models: ['sd15'] } });
  await settle();
});

const named = (type: string, prefix: string) =>
  ofType(recorded, type).filter((r) => r.name.startsWith(prefix));
const userDataOf = async (r: Recorded) =>
  Buffer.from(await resolved(r.inputs.userData as string), 'base64').toString();

interface Step {
  name: string;
  action: string;
  inputs: { commands: string[] };
}
/** The component's AWSTOE document (JSON, which is YAML) as phases of steps. */
async function documentOf(prefix: string): Promise<Record<string, Step[]>> {
  const component = one(recorded, 'aws:imagebuilder/component:Component', `${prefix}AmiComponent`);
  const doc = JSON.parse(await resolved(component.inputs.data as string)) as {
    phases: { name: string; steps: Step[] }[];
  };
  return Object.fromEntries(doc.phases.map((p) => [p.name, p.steps]));
}
const script = (steps: Step[] | undefined, name: string) =>
  steps?.find((s) => s.name === name)?.inputs.commands.join('\n') ?? '';

describe('by default (every stage)', () => {
  it('no stage bakes an AMI', () => {
    for (const stage of ['production', 'staging', 'alice'])
      expect(settingsFor(stage).gpu.bakedAmi).toBeUndefined();
  });

  it('creates no Image Builder resource and launches the stock ECS GPU AMI', () => {
    expect(
      recorded.filter((r) => r.type.startsWith('aws:imagebuilder') && r.name.startsWith('Plain')),
    ).toEqual([]);
    const template = one(recorded, 'aws:ec2/launchTemplate:LaunchTemplate', 'PlainLaunchTemplate');
    expect(template.inputs.imageId).toBe(`resolve:ssm:${ECS_GPU_AMI_PARAMETER}`);
  });
});

describe('a baked AMI', () => {
  it('builds on the ECS GPU AMI the fleet launches, with the fleet root volume', () => {
    const recipe = one(recorded, 'aws:imagebuilder/imageRecipe:ImageRecipe', 'BakedAmiRecipe');
    expect(recipe.inputs.parentImage).toBe(`ssm:${ECS_GPU_AMI_PARAMETER}`);
    expect(recipe.inputs.blockDeviceMappings).toMatchObject([
      { deviceName: '/dev/xvda', ebs: { volumeSize: settingsFor('staging').gpu.rootVolumeGiB } },
    ]);
    const image = one(recorded, 'aws:imagebuilder/image:Image', 'BakedAmiImage');
    expect(image.dependencies).toEqual(expect.arrayContaining(['BakedAmiRecipe', 'BakedAmiInfrastructure']));
  });

  it('pulls the pinned digest and leaves no registry token on the AMI', async () => {
    const pull = script((await documentOf('Baked')).build, 'PullWorkerImage');
    expect(pull).toContain(`docker pull ${image}\n`);
    expect(pull).toContain('--region eu-west-1');
    expect(pull).toMatch(/docker logout 123456789012\.dkr\.ecr\.eu-west-1\.amazonaws\.com$/);
  });

  it('copies each model into the folder the worker reads, and checks its marker before the AMI is made', async () => {
    const doc = await documentOf('Baked');
    const cache = script(doc.build, 'CacheModelBundles');
    expect(cache).toContain(
      cacheModelsScript({ bucket: bucket.name, models, cacheDir: MODEL_CACHE.hostPath, region: 'eu-west-1' }),
    );
    expect(cache).toContain(`chown -R ${MODEL_CACHE.owner}:${MODEL_CACHE.owner} ${MODEL_CACHE.hostPath}`);
    const check = script(doc.validate, 'CheckCache');
    expect(check).toContain(`docker image inspect ${image}`);
    for (const id of models) {
      // The worker's own rule: an id -> its S3 prefix (in the script), and `<cache>/<id>/` + marker (checked).
      const source = bundleSourceOf(id, workerConfig);
      if (source.type !== 's3') throw new Error(`${id} is not an S3 bundle`);
      expect(cache).toContain(
        `python3 - ${source.bucket} ${source.prefix} ${source.id} ${MODEL_CACHE.hostPath}`,
      );
      expect(check).toContain(`test -f ${join(MODEL_CACHE.hostPath, source.id, BUNDLE_CACHE_MARKER)}`);
    }
    // The AMI must not carry the build instance's ECS registration.
    expect(script(doc.build, 'ResetEcsAgent')).toContain('rm -rf /var/lib/ecs/data/*');
  });

  it('makes a new component version when the model list changes, the same one when nothing does', async () => {
    const version = (prefix: string) =>
      resolved(one(recorded, 'aws:imagebuilder/component:Component', `${prefix}AmiComponent`).inputs.version);
    const [baked, same, other] = await Promise.all([version('Baked'), version('Same'), version('Other')]);
    expect(baked).toMatch(/^1\.\d+\.\d+$/);
    expect(same).toBe(baked);
    expect(other).not.toBe(baked);
    for (const part of String(baked).split('.')) expect(Number(part)).toBeLessThan(2 ** 30);
  });

  it('launches spot and warm-pool instances from the built AMI, preferring the cached image', async () => {
    for (const name of ['BakedLaunchTemplate', 'BakedWarmLaunchTemplate']) {
      const template = one(recorded, 'aws:ec2/launchTemplate:LaunchTemplate', name);
      expect(await resolved(template.inputs.imageId)).toBe('ami-BakedAmiImage');
      expect(await userDataOf(template)).toContain('ECS_IMAGE_PULL_BEHAVIOR=prefer-cached');
    }
  });

  it('gives the build instance the Image Builder policies, a pull of one repository and read of the models', async () => {
    const attached = named('aws:iam/rolePolicyAttachment:RolePolicyAttachment', 'BakedAmiBuild').map(
      (r) => r.inputs.policyArn,
    );
    expect(attached.sort()).toEqual([
      'arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore',
      'arn:aws:iam::aws:policy/EC2InstanceProfileForImageBuilder',
    ]);
    const policy = one(recorded, 'aws:iam/rolePolicy:RolePolicy', 'BakedAmiBuildAccess');
    const statements = JSON.parse(await resolved(policy.inputs.policy as string)).Statement as {
      Action: string[];
      Resource: string[];
      Condition?: unknown;
    }[];
    const byAction = (action: string) => statements.find((s) => s.Action.includes(action));
    expect(byAction('ecr:BatchGetImage')?.Resource).toEqual([
      'arn:aws:ecr:eu-west-1:123456789012:repository/obelm-prod-worker',
    ]);
    expect(byAction('s3:GetObject')?.Resource).toEqual(models.map((id) => `${bucket.arn}/models/${id}/*`));
    expect(byAction('s3:ListBucket')).toMatchObject({
      Resource: [bucket.arn],
      Condition: { StringLike: { 's3:prefix': models.map((id) => `models/${id}/*`) } },
    });
    expect(statements.flatMap((s) => s.Action).sort()).toEqual([
      'ecr:BatchCheckLayerAvailability',
      'ecr:BatchGetImage',
      'ecr:GetAuthorizationToken',
      'ecr:GetDownloadUrlForLayer',
      's3:GetObject',
      's3:ListBucket',
    ]);
    const infrastructure = one(
      recorded,
      'aws:imagebuilder/infrastructureConfiguration:InfrastructureConfiguration',
      'BakedAmiInfrastructure',
    );
    expect(infrastructure.inputs).toMatchObject({ subnetId: 'subnet-a', terminateInstanceOnFailure: true });
  });

  it('rejects a bad model list, a missing bucket and an image outside ECR', async () => {
    const { GpuWorker } = await import('../../infra/gpuWorker.ts');
    const alice = settingsFor('alice');
    const withModels = (list: string[]) => ({ ...alice, gpu: { ...alice.gpu, bakedAmi: { models: list } } });
    expect(() => validateSettings(withModels(['sd15', 'bad id']))).toThrow(/not model ids: bad id/);
    expect(() => validateSettings(withModels(['sd15', 'sd15']))).toThrow(/twice/);
    expect(() => validateSettings(withModels(['sd15', 'sd15-fp16']))).not.toThrow();
    const args = { ...common, ...settingsFor('staging').gpu, bakedAmi: { models } };
    const { modelBucket: _, ...withoutBucket } = args;
    expect(() => new GpuWorker('NoBucket', withoutBucket)).toThrow(/modelBucket/);
    expect(
      () => new GpuWorker('Docker', { ...args, image: `docker.io/obelm/worker@sha256:${'ab'.repeat(32)}` }),
    ).toThrow(/not an ECR image/);
  });
});

describe("a baked AMI's superseded bakes", () => {
  /** The tags of a fleet's image, which the lifecycle policy selects and spares by. */
  const tagsOf = async (prefix: string) =>
    resolved(one(recorded, 'aws:imagebuilder/image:Image', `${prefix}AmiImage`).inputs.tags) as Promise<
      Record<string, string>
    >;
  const policyOf = (prefix: string) =>
    one(recorded, 'aws:imagebuilder/lifecyclePolicy:LifecyclePolicy', `${prefix}AmiLifecyclePolicy`);

  it('tags each image with its stack and fleet and its recipe, and leaves a replaced one to the policy', async () => {
    // The mocks run project `obelm`, stack `test`; the recipe's ARN is the mock's.
    expect(await tagsOf('Baked')).toEqual({
      'obelm:baked-ami': 'obelm/test/BakedAmi',
      'obelm:bake': 'arn:aws:imagebuilder:us-east-1:123456789012:BakedAmiRecipe',
    });
    expect((await tagsOf('Same'))['obelm:baked-ami']).toBe('obelm/test/SameAmi');
    // The image outlives its Pulumi resource (deleting it would orphan its AMI and snapshots), and so do the
    // component and recipe it depends on.
    expect([...retained].filter((n) => n.startsWith('Baked')).sort()).toEqual([
      'BakedAmiComponent',
      'BakedAmiImage',
      'BakedAmiRecipe',
    ]);
  });

  it("selects only its own fleet's AMI images and deletes each, AMI and snapshots included, once old enough", async () => {
    const policy = policyOf('Baked');
    expect(policy.inputs.resourceType).toBe('AMI_IMAGE');
    expect(await resolved(policy.inputs.resourceSelection)).toEqual({
      tagMap: { 'obelm:baked-ami': (await tagsOf('Baked'))['obelm:baked-ami'] },
    });
    expect(await resolved(policy.inputs.policyDetails)).toEqual([
      {
        action: { type: 'DELETE', includeResources: { amis: true, snapshots: true } },
        filter: { type: 'AGE', value: BAKE_RETENTION_DAYS, unit: 'DAYS' },
        exclusionRules: { tagMap: { 'obelm:bake': (await tagsOf('Baked'))['obelm:bake'] } },
      },
    ]);
    // One policy per baked fleet, none without a baked AMI.
    expect(
      ofType(recorded, 'aws:imagebuilder/lifecyclePolicy:LifecyclePolicy')
        .map((r) => r.name)
        .sort(),
    ).toEqual(['BakedAmiLifecyclePolicy', 'OtherAmiLifecyclePolicy', 'SameAmiLifecyclePolicy']);
    expect(named('aws:iam/role:Role', 'PlainAmi')).toEqual([]);
  });

  it('spares the bake the launch templates launch, and moves that only after every template moved', async () => {
    // The spared bake is the image whose AMI both templates launch.
    const spared = (
      (await resolved(policyOf('Baked').inputs.policyDetails)) as { exclusionRules: unknown }[]
    )[0];
    expect(spared?.exclusionRules).toEqual({
      tagMap: { 'obelm:bake': (await tagsOf('Baked'))['obelm:bake'] },
    });
    for (const name of ['BakedLaunchTemplate', 'BakedWarmLaunchTemplate']) {
      const template = one(recorded, 'aws:ec2/launchTemplate:LaunchTemplate', name);
      expect(await resolved(template.inputs.imageId)).toBe('ami-BakedAmiImage');
    }
    expect(policyOf('Baked').dependencies).toEqual(
      expect.arrayContaining([
        'BakedLaunchTemplate',
        'BakedWarmLaunchTemplate',
        'BakedAmiLifecycleExecution',
      ]),
    );
    // Without a warm pool, the one template.
    expect(policyOf('Same').dependencies).toEqual(expect.arrayContaining(['SameLaunchTemplate']));
    expect(policyOf('Same').dependencies).not.toContain('SameWarmLaunchTemplate');
  });

  it("runs as a role only Image Builder may assume, holding AWS's lifecycle execution policy and nothing else", async () => {
    const role = one(recorded, 'aws:iam/role:Role', 'BakedAmiLifecycleRole');
    expect(JSON.parse(await resolved(role.inputs.assumeRolePolicy as string))).toEqual({
      Version: '2012-10-17',
      Statement: [
        { Effect: 'Allow', Principal: { Service: 'imagebuilder.amazonaws.com' }, Action: 'sts:AssumeRole' },
      ],
    });
    const attached = named('aws:iam/rolePolicyAttachment:RolePolicyAttachment', 'BakedAmiLifecycle');
    expect(attached.map((r) => [r.inputs.role, r.inputs.policyArn])).toEqual([
      [
        'BakedAmiLifecycleRole-name',
        'arn:aws:iam::aws:policy/service-role/EC2ImageBuilderLifecycleExecutionPolicy',
      ],
    ]);
    expect(named('aws:iam/rolePolicy:RolePolicy', 'BakedAmiLifecycle')).toEqual([]);
    expect(await resolved(policyOf('Baked').inputs.executionRole)).toBe(
      'arn:aws:iam:us-east-1:123456789012:BakedAmiLifecycleRole',
    );
  });
});

/** The copy script run for real: the AWS CLI against the local S3 stand-in, then the worker's own fetch. */
const hasAwsCli = await run('aws', ['--version']).then(
  () => true,
  () => false,
);
// biome-ignore lint/plugin/noSilentSkip: the AWS CLI is the build instance's tool, not a dependency of this repo; where it is missing, the Pulumi tests above still pin the script
describe.skipIf(!hasAwsCli)('the bake script against S3 (needs the AWS CLI)', () => {
  const id = 'baked';
  let s3: StandIn;
  let client: S3Client;
  let dir: string;
  const put = (path: string, body: string) =>
    client.send(new PutObjectCommand({ Bucket: bucket.name, Key: `models/${id}/${path}`, Body: body }));

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'obelm-ami-'));
    s3 = await startS3(join(dir, 's3'));
    client = new S3Client({
      endpoint: s3.endpoint,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    });
    await client.send(new CreateBucketCommand({ Bucket: bucket.name }));
    await put('manifest.json', '{"kind":"test"}');
    await put('unet/model.onnx', 'unet weights');
    await put('text_encoder/model.onnx', 'text weights');
  });
  afterAll(async () => {
    client?.destroy();
    await s3?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('leaves a copy the worker uses as is, and one it refreshes when the bundle changes', async () => {
    const cacheDir = join(dir, 'cache');
    const bake = join(dir, 'bake.sh');
    writeFileSync(
      bake,
      cacheModelsScript({ bucket: bucket.name, models: [id], cacheDir, region: 'us-east-1' }),
    );
    // Loopback only: the stand-in's endpoint and credentials, no config files, no instance metadata.
    const env = {
      PATH: process.env.PATH ?? '',
      HOME: dir,
      AWS_ENDPOINT_URL: s3.endpoint,
      AWS_ACCESS_KEY_ID: 'S3RVER',
      AWS_SECRET_ACCESS_KEY: 'S3RVER',
      AWS_CONFIG_FILE: '/dev/null',
      AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
      AWS_EC2_METADATA_DISABLED: 'true',
    };
    const { stdout } = await run('bash', [bake], { env, timeout: 60_000 });
    expect(stdout).toContain(`model '${id}': 3 objects cached`);

    const gets: string[] = [];
    client.middlewareStack.add(
      (next, context) => (args) => {
        if (context.commandName === 'GetObjectCommand') gets.push((args.input as { Key: string }).Key);
        return next(args);
      },
      { step: 'initialize' },
    );
    const source = bundleSourceOf(id, { ...workerConfig, OBELM_BUCKET: bucket.name });
    if (source.type !== 's3') throw new Error('not an S3 bundle');
    const marker = join(cacheDir, id, BUNDLE_CACHE_MARKER);
    const baked = { inode: statSync(marker).ino, text: readFileSync(marker, 'utf8') };
    const folder = await fetchBundle(client, source, cacheDir);
    expect(folder).toBe(join(cacheDir, id));
    // Used as is: nothing downloaded, and no new copy made (a rebuilt folder, even of hard links, has a new marker).
    expect(gets).toEqual([]);
    expect({ inode: statSync(marker).ino, text: readFileSync(marker, 'utf8') }).toEqual(baked);
    expect(readFileSync(join(folder, 'unet', 'model.onnx'), 'utf8')).toBe('unet weights');

    // The marker describes the copy: a changed object is the only one the worker downloads again.
    await put('unet/model.onnx', 'new unet weights');
    await fetchBundle(client, source, cacheDir);
    expect(gets).toEqual([`models/${id}/unet/model.onnx`]);
  }, 90_000);
});
