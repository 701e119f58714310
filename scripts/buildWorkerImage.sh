#!/usr/bin/env bash
# Builds the GPU worker image (packages/worker/Dockerfile, x86_64) from the repository root.
# Usage: scripts/buildWorkerImage.sh [image]   (default obelm-worker:local; pushWorkerImage.sh passes its ECR name)
set -euo pipefail
cd "$(dirname "$0")/.."
image="${1:-obelm-worker:local}"

if ! command -v docker >/dev/null 2>&1; then
  echo "build:worker-image: Docker is not installed; the worker image needs Docker with buildx (docs/deploy.md)" >&2
  exit 1
fi
if ! docker info >/dev/null 2>&1; then
  echo "build:worker-image: the Docker daemon is not reachable (is it running, may this user use it?)" >&2
  exit 1
fi
docker build --platform linux/amd64 -f packages/worker/Dockerfile -t "$image" .
echo "built $image" >&2
