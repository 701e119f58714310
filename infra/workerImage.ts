import * as aws from '@pulumi/aws';
import { InfraConfigError } from './errors.ts';

/** The ECR repository the worker image is pushed to (scripts/pushWorkerImage.sh). */
export function createWorkerRepository(repositoryName: string): aws.ecr.Repository {
  const repository = new aws.ecr.Repository('WorkerImages', {
    name: repositoryName,
    // A tag once pushed always names the same image; the deploy pins digests anyway (workerImageParameter).
    imageTagMutability: 'IMMUTABLE',
    imageScanningConfiguration: { scanOnPush: true },
    // `sst remove` deletes the repository with its images instead of failing on a non-empty one.
    forceDelete: true,
  });
  // Images are ~8 GB: keep the last few so a rollback is possible without paying for every build.
  new aws.ecr.LifecyclePolicy('WorkerImagesRetention', {
    repository: repository.name,
    policy: JSON.stringify({
      rules: [
        {
          rulePriority: 1,
          description: 'keep the 5 newest images',
          selection: { tagStatus: 'any', countType: 'imageCountMoreThan', countNumber: 5 },
          action: { type: 'expire' },
        },
      ],
    }),
  });
  return repository;
}

/**
 * The SSM parameter scripts/pushWorkerImage.sh writes after a push: `<repository>@sha256:<digest>`. It lives in
 * the stage's account and region, so every deployer (a laptop, CI) reads the same image; nothing at runtime
 * reads it.
 */
export const workerImageParameter = (stage: string): string => `/obelm/${stage}/worker-image`;

/** `<registry>/<repository>@sha256:<64 hex>`: an image that cannot change under the task definition. */
export const isDigestReference = (image: string): boolean => /^[^\s@]+@sha256:[0-9a-f]{64}$/.test(image);

/**
 * The image a stage's task definition runs: OBELM_WORKER_IMAGE when set (CI, tests), else the digest the push
 * script recorded. No image fails the deploy with what to do, instead of pointing the fleet at a tag that was
 * never pushed.
 */
export function resolveWorkerImage(args: { stage: string; override?: string; pushed?: string }): string {
  const image = args.override || args.pushed;
  if (!image) {
    throw new InfraConfigError(
      'no_worker_image',
      `stage ${args.stage}: no worker image has been pushed (SSM parameter ${workerImageParameter(args.stage)} ` +
        `is missing). Run 'scripts/pushWorkerImage.sh ${args.stage}' (it bootstraps the ECR repository on a ` +
        `fresh stage), then deploy again; or set OBELM_WORKER_IMAGE=<repository>@sha256:<digest>.`,
    );
  }
  if (!isDigestReference(image)) {
    throw new InfraConfigError(
      'worker_image_not_pinned',
      `stage ${args.stage}: worker image ${image} is not pinned by digest (<repository>@sha256:<digest>)`,
    );
  }
  return image;
}
