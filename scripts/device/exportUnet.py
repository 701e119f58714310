"""Exports sdUnet's network to ONNX as an SD bundle's `unet/` folder, in optimum's layout.

Inputs `sample` [batch, 4, height, width], `timestep` [batch] (int64: one per row, so the worker may merge rows at
different steps), `encoder_hidden_states` [batch, 77, D]; output `out_sample`. The weights go to `model.onnx_data`
beside `model.onnx`, as optimum writes an fp32 SD export (3.4 GB: over protobuf's 2 GB). Put in place of the tiny bundle's
UNet (packages/models testing writeTinySdBundle with the same hiddenSize and latentSize), the bundle loads as a
real export does, and test/bench/providerFacts.ts runs the worker's own batch-invariance check and a batch curve
on it with any onnxruntime provider.

Usage: python3 scripts/device/exportUnet.py OUT_DIR [--config sd15|tiny] [--dtype float16|float32]
"""

import argparse
import os
import tempfile

import onnx
import torch

import sdUnet


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("out", help="the folder to write model.onnx and model.onnx_data into")
    parser.add_argument("--config", choices=["sd15", "tiny"], default="sd15")
    parser.add_argument("--dtype", choices=["float16", "float32"], default="float16")
    args = parser.parse_args()
    cfg = sdUnet.SD15 if args.config == "sd15" else sdUnet.TINY
    dtype = getattr(torch, args.dtype)
    # fp16 weights are traced on the GPU where there is one (the CPU lacks some fp16 kernels).
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    net = sdUnet.build(cfg).to(device, dtype)
    side = cfg.latent_size
    example = (
        torch.randn((2, cfg.latent_channels, side, side), device=device, dtype=dtype),
        torch.tensor([500, 250], device=device),
        torch.randn((2, cfg.tokens, cfg.context_dim), device=device, dtype=dtype),
    )
    batch = {0: "batch_size"}
    # torch writes a model over 2 GB as one file per tensor; re-saved below as the two files a bundle holds.
    traced_dir = tempfile.TemporaryDirectory()
    traced = os.path.join(traced_dir.name, "model.onnx")
    torch.onnx.export(
        net,
        example,
        traced,
        input_names=["sample", "timestep", "encoder_hidden_states"],
        output_names=["out_sample"],
        dynamic_axes={
            "sample": {0: "batch_size", 2: "height", 3: "width"},
            "timestep": batch,
            "encoder_hidden_states": batch,
            "out_sample": {0: "batch_size", 2: "height", 3: "width"},
        },
        opset_version=17,
        dynamo=False,
    )
    model = onnx.load(traced, load_external_data=True)
    os.makedirs(args.out, exist_ok=True)
    # onnx appends to an existing data file: one left by an earlier export would grow, stale.
    for name in ("model.onnx", "model.onnx_data"):
        if os.path.exists(os.path.join(args.out, name)):
            os.remove(os.path.join(args.out, name))
    onnx.save_model(
        model,
        os.path.join(args.out, "model.onnx"),
        save_as_external_data=True,
        all_tensors_to_one_file=True,
        location="model.onnx_data",
    )
    traced_dir.cleanup()
    print(f"wrote {args.out}/model.onnx and model.onnx_data ({args.config}, {args.dtype})")


if __name__ == "__main__":
    main()
