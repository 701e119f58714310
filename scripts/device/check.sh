#!/usr/bin/env bash
# The device check (issue 14), one command on a lent GPU machine, carrying .device (scripts/device/prepare.sh):
#   run: bash scripts/device/check.sh      carry: [".device"]      timeout_s: 560
# Three parts, each bounded (120 + 150 + 45 + 150 s, then killed 10 s after) so the whole ends inside one call,
# each written to $OUT whatever the others do:
#   1. torchFacts.py: batch invariance (fp16 / fp32, torch's deterministic settings off / on) and the batch curve
#      of an SD-1.5-sized UNet on cuDNN / cuBLAS, the kernels onnxruntime's CUDA provider calls too;
#   2. exportUnet.py: that UNet exported to ONNX at SD 1.5's real size, in fp32: Dawn leaves WebGPU's f16
#      feature off on NVIDIA's Vulkan driver (onnxruntime's maintainers, 2025), so an fp16 export may not load;
#   3. providerFacts.mjs under Node 22, onnxruntime-node's WebGPU provider over Vulkan: the worker's own
#      start-up check (chooseBatchMode) and batch curve, on the tiny SD bundle and on the real-size export.
# Here (no GPU) the same parts run on the CPU: bash scripts/device/check.sh --cpu   (torch needed for 1 and 2).
set -uo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-$(mktemp -d)}
export PYTHONUNBUFFERED=1
cpu=${1:-}
config=sd15
provider=webgpu
[ "$cpu" = --cpu ] && config=tiny && provider=cpu
echo "results in $OUT"

echo "== 1. torch facts ($config)"
(cd scripts/device && timeout -k 10 120 python3 torchFacts.py --config "$config" --out "$OUT/torchFacts.json") \
  >"$OUT/torchFacts.log" 2>&1
echo "exit $?"; grep -v '^{' "$OUT/torchFacts.log" | tail -60

echo "== 2. UNet export ($config, float32)"
unet=/tmp/obelmUnet
rm -rf "$unet" # part 3 uses only this run's export
(cd scripts/device && timeout -k 10 150 python3 exportUnet.py "$unet" --config "$config" --dtype float32) 2>&1 |
  tee "$OUT/exportUnet.log" | tail -3

echo "== 3. worker check and batch curve, $provider"
node=node
if [ -d .device ]; then
  if [ "$provider" = webgpu ]; then
    for f in .device/gl/*.deb; do dpkg -x "$f" /; done
    ldconfig
    nvidia=/usr/local/nvidia/share
    [ -f "$nvidia/vulkan/icd.d/nvidia_icd.json" ] && export VK_DRIVER_FILES=$nvidia/vulkan/icd.d/nvidia_icd.json
    [ -f "$nvidia/glvnd/egl_vendor.d/10_nvidia.json" ] &&
      export __EGL_VENDOR_LIBRARY_FILENAMES=$nvidia/glvnd/egl_vendor.d/10_nvidia.json
  fi
  # Unpacked outside the carried folder, which stays as prepare.sh left it (64 MiB travel per call); with
  # Python's lzma where the machine has no xz.
  unpack() {
    tar -xJf "$1" -C "$2" 2>/dev/null ||
      python3 -c 'import sys, tarfile; tarfile.open(sys.argv[1]).extractall(sys.argv[2])' "$1" "$2"
  }
  run=/tmp/obelmDevice
  mkdir -p "$run/node_modules"
  unpack .device/node.tar.xz "$run" && node=$run/bin/node
  unpack .device/nodeModules.tar.xz "$run/node_modules"
  cp .device/*.mjs .device/*.map "$run/"
fi
facts=("${run:-.device}/providerFacts.mjs")
[ -f "${facts[0]}" ] || facts=(--import tsx test/bench/providerFacts.ts)
"$node" --version
timeout -k 10 45 "$node" "${facts[@]}" --provider "$provider" --out "$OUT/providerTiny.json" 2>&1 |
  tee "$OUT/providerTiny.log" | grep -v Warning | tail -20
if [ -f "$unet/model.onnx" ]; then
  hidden=768 latent=64
  [ "$config" = tiny ] && hidden=32 latent=8
  # Up to 3 rows: the export writes attention out as MatMul-Softmax-MatMul, a [rows, 8, 4096, 4096] fp32 tensor
  # (512 MiB a row) at 64x64 latents, and WebGPU storage buffers may be capped at 2 GiB.
  timeout -k 10 150 "$node" "${facts[@]}" --provider "$provider" --unet "$unet" --hidden $hidden --latent $latent \
    --max-rows 3 --curve 1,2,3 --repeats 3 --out "$OUT/providerUnet.json" 2>&1 |
    tee "$OUT/providerUnet.log" | grep -v Warning | tail -20
fi
