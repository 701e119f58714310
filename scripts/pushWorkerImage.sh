#!/usr/bin/env bash
# Builds the GPU worker image, pushes it to the stage's ECR repository and records its digest in the SSM
# parameter /obelm/<stage>/worker-image, which `sst deploy` reads (infra/workerImage.ts resolveWorkerImage).
# Usage: scripts/pushWorkerImage.sh <stage>   (then: npx sst deploy --stage <stage>)
# On a fresh stage it first deploys the ECR repository alone (`sst deploy --target WorkerImages`).
set -euo pipefail
cd "$(dirname "$0")/.."
stage="${1:?usage: scripts/pushWorkerImage.sh <stage>}"
parameter="/obelm/${stage}/worker-image"

# The repository name is fixed by stacks/index.ts: obelm-<stage>-worker.
describe_repository() {
  aws ecr describe-repositories --repository-names "obelm-${stage}-worker" \
    --query 'repositories[0].repositoryUri' --output text 2>/dev/null
}
if ! repository="$(describe_repository)"; then
  echo "no ECR repository for stage ${stage} yet: deploying it alone" >&2
  OBELM_BOOTSTRAP_WORKER_REPOSITORY=1 npx sst deploy --stage "$stage" --target WorkerImages
  repository="$(describe_repository)"
fi

# Tags are immutable: a dirty tree gets a tag of its own every build.
tag="$(git rev-parse --short=12 HEAD)"
git diff --quiet HEAD || tag="${tag}-dirty-$(date -u +%Y%m%d%H%M%S)"
digest_of() {
  aws ecr describe-images --repository-name "obelm-${stage}-worker" --image-ids "imageTag=$1" \
    --query 'imageDetails[0].imageDigest' --output text 2>/dev/null
}
if digest="$(digest_of "$tag")"; then
  echo "image ${tag} is already in the repository: not rebuilding" >&2
else
  registry="${repository%%/*}"
  aws ecr get-login-password | docker login --username AWS --password-stdin "$registry"
  scripts/buildWorkerImage.sh "${repository}:${tag}"
  docker push "${repository}:${tag}"
  digest="$(digest_of "$tag")"
fi

image="${repository}@${digest}"
aws ssm put-parameter --name "$parameter" --type String --value "$image" --overwrite >/dev/null
echo "pushed ${image} (tag ${tag}); recorded in SSM ${parameter}. Next: npx sst deploy --stage ${stage}" >&2
echo "$image"
