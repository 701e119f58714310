"""Exports sdUnet's network to ONNX as an SD bundle's `unet/model.onnx`, in optimum's layout.

Inputs `sample` [batch, 4, height, width], `timestep` [batch] (int64: one per row, so the worker may merge rows at
different steps), `encoder_hidden_states` [batch, 77, D]; output `out_sample`. Put in place of the tiny bundle's
UNet (packages/models testing writeTinySdBundle with the same hiddenSize and latentSize), the bundle loads as a
real export does, and test/bench/providerFacts.ts runs the worker's own batch-invariance check and a batch curve
on it with any onnxruntime provider.

Usage: python3 scripts/device/exportUnet.py OUT.onnx [--config sd15|tiny] [--dtype float16|float32]
"""

import argparse

import torch

import sdUnet


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("out")
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
    torch.onnx.export(
        net,
        example,
        args.out,
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
    print(f"wrote {args.out} ({args.config}, {args.dtype})")


if __name__ == "__main__":
    main()
