import * as aws from '@pulumi/aws';

/** The ECR repository the worker image is pushed to (scripts/pushWorkerImage.sh). */
export function createWorkerRepository(repositoryName: string): aws.ecr.Repository {
  const repository = new aws.ecr.Repository('WorkerImages', {
    name: repositoryName,
    imageTagMutability: 'MUTABLE',
    imageScanningConfiguration: { scanOnPush: true },
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
