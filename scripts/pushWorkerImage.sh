#!/usr/bin/env bash
# Builds the GPU worker image and pushes it to the stage's ECR repository (created by `sst deploy`).
# Usage: scripts/pushWorkerImage.sh <stage>   (then: OBELM_WORKER_IMAGE_TAG=<printed tag> npx sst deploy --stage <stage>)
set -euo pipefail
cd "$(dirname "$0")/.."
stage="${1:?usage: scripts/pushWorkerImage.sh <stage>}"

# The repository name is fixed by stacks/index.ts: obelm-<stage>-worker.
if ! repository="$(aws ecr describe-repositories --repository-names "obelm-${stage}-worker" \
  --query 'repositories[0].repositoryUri' --output text 2>/dev/null)"; then
  echo "no ECR repository for stage ${stage}: run 'npx sst deploy --stage ${stage}' first" >&2
  exit 1
fi
tag="$(git rev-parse --short=12 HEAD)$(git diff --quiet || echo -dirty)"
registry="${repository%%/*}"
aws ecr get-login-password | docker login --username AWS --password-stdin "$registry"
docker build --platform linux/amd64 -f packages/worker/Dockerfile -t "${repository}:${tag}" .
docker push "${repository}:${tag}"
echo "$tag"
