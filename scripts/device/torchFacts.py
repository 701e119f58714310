"""Batch invariance and the batch curve of an SD-1.5-sized UNet on this machine's torch device.

The worker merges jobs' rows into one model call and promises each job the same bytes alone or in any batch
(packages/worker/src/batching/invariance.ts). On the CPU provider each row's eps is bitwise independent of the
batch; GPU libraries may pick kernels (and reduction orders) by batch size. This script measures, on cuDNN/cuBLAS
kernels (the ones onnxruntime's CUDA provider calls too):
- invariant: every row's output inside batches of size s equals, bitwise, its output alone ('batched' mode);
- consistent: every row's output is bitwise the same at two positions with other neighbours in batches of size s
  (what 'padded' mode, every call at one size, relies on);
- mixed: the same with each row at its own timestep (the worker's epsRows merging);
each with torch's deterministic settings off and on, per dtype; and the batch curve: ms per call at each size,
with the fit a + b * rows that the scheduler bench's stub GPU model assumes.

Usage: python3 scripts/device/torchFacts.py [--config sd15|tiny] [--sizes 1,2,4,8,16] [--out facts.json]
"""

import argparse
import json
import os
import platform
import statistics
import time

# cuBLAS is deterministic only with a fixed workspace; it must be set before the first cuBLAS handle.
os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")

import torch  # noqa: E402

import sdUnet  # noqa: E402


def deterministic(on: bool) -> None:
    torch.use_deterministic_algorithms(on)
    torch.backends.cudnn.deterministic = on
    torch.backends.cudnn.benchmark = not on


def same_bits(a: torch.Tensor, b: torch.Tensor) -> bool:
    """Bit for bit, whatever the dtype (NaNs included, which torch.equal on floats would call unequal)."""
    return a.shape == b.shape and torch.equal(a.contiguous().view(torch.uint8), b.contiguous().view(torch.uint8))


def invariance(net, cfg, sizes, dtype, device, seed=1):
    """Each row alone is the reference; at each size the first s rows run forward and reversed (two positions)."""
    pool = max(sizes)
    gen = torch.Generator().manual_seed(seed)
    shape = (pool, cfg.latent_channels, cfg.latent_size, cfg.latent_size)
    x = torch.randn(shape, generator=gen).to(device, dtype)
    ctx = torch.randn((pool, cfg.tokens, cfg.context_dim), generator=gen).to(device, dtype)
    same_t = torch.full((pool,), 500, device=device)
    own_t = torch.tensor([int((r + 0.5) * 1000 / pool) for r in range(pool)], device=device)

    def run(rows, t):
        with torch.no_grad():
            return net(x[rows], t[rows], ctx[rows])

    def probe(t):
        alone = [run([r], t)[0] for r in range(pool)]
        found = []
        for s in sizes:
            order = list(range(s))
            fwd = run(order, t)
            rev = run(order[::-1], t).flip(0)
            found.append(
                {
                    "size": s,
                    "invariant": all(same_bits(fwd[r], alone[r]) and same_bits(rev[r], alone[r]) for r in order),
                    "consistent": all(same_bits(fwd[r], rev[r]) for r in order),
                    "maxAbsDiff": max(
                        float((batch[r].float() - alone[r].float()).abs().max()) for batch in (fwd, rev) for r in order
                    ),
                }
            )
        return found

    same = probe(same_t)
    mixed = probe(own_t)
    for row, m in zip(same, mixed):
        row["mixed"] = m["invariant"]
    return same


def batch_curve(net, cfg, sizes, dtype, device, repeats):
    """Median ms per call at each size, after warm-up; the least-squares line a + b * rows through them."""
    points = []
    for s in sizes:
        x = torch.randn((s, cfg.latent_channels, cfg.latent_size, cfg.latent_size), device=device, dtype=dtype)
        ctx = torch.randn((s, cfg.tokens, cfg.context_dim), device=device, dtype=dtype)
        t = torch.full((s,), 500, device=device)
        times = []
        with torch.no_grad():
            for n in range(3 + repeats):
                sync(device)
                start = time.perf_counter()
                net(x, t, ctx)
                sync(device)
                if n >= 3:
                    times.append(1000 * (time.perf_counter() - start))
        ms = statistics.median(times)
        points.append({"rows": s, "msPerCall": round(ms, 3), "msPerRow": round(ms / s, 3)})
    xs, ys = [p["rows"] for p in points], [p["msPerCall"] for p in points]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    b = sum((u - mx) * (v - my) for u, v in zip(xs, ys)) / max(1e-9, sum((u - mx) ** 2 for u in xs))
    return {"points": points, "fit": {"a": round(my - b * mx, 3), "b": round(b, 3)}}


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--config", choices=["sd15", "tiny"], default="sd15")
    parser.add_argument("--sizes", default="1,2,4,8,16")
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--out")
    args = parser.parse_args()
    cfg = sdUnet.SD15 if args.config == "sd15" else sdUnet.TINY
    sizes = [int(s) for s in args.sizes.split(",")]
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    # Plain fp32 on a GPU, not TF32: TF32 is a precision choice of its own, not the exact path.
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    dtypes = [torch.float16, torch.float32] if device.type == "cuda" else [torch.float32]
    facts = {
        "device": torch.cuda.get_device_name(0) if device.type == "cuda" else platform.processor() or "cpu",
        "torch": torch.__version__,
        "cudnn": torch.backends.cudnn.version() if device.type == "cuda" else None,
        "config": args.config,
        "invariance": [],
        "curves": [],
    }
    for dtype in dtypes:
        net = sdUnet.build(cfg).to(device, dtype)
        for on in (False, True):
            deterministic(on)
            started = time.perf_counter()
            found = {"dtype": str(dtype).removeprefix("torch."), "deterministic": on}
            try:
                found["sizes"] = invariance(net, cfg, sizes, dtype, device)
            except RuntimeError as error:  # an op without a deterministic kernel (a fact), or out of memory
                found["error"] = f"{type(error).__name__}: {str(error).splitlines()[0]}"
            found["seconds"] = round(time.perf_counter() - started, 1)
            facts["invariance"].append(found)
            print_invariance(found)
            save(facts, args.out)
        deterministic(False)
        try:
            curve = batch_curve(net, cfg, sizes, dtype, device, args.repeats)
            facts["curves"].append({"dtype": str(dtype).removeprefix("torch."), **curve})
            print_curve(facts["curves"][-1])
        except RuntimeError as error:
            failure = f"{type(error).__name__}: {str(error).splitlines()[0]}"
            facts["curves"].append({"dtype": str(dtype).removeprefix("torch."), "error": failure})
        save(facts, args.out)
        del net
    print(json.dumps(facts))


def save(facts, out) -> None:
    """After each finding: a run cut short by its time limit keeps what it found."""
    if out:
        with open(out, "w") as f:
            json.dump(facts, f, indent=2)


def print_invariance(found) -> None:
    print(f"\n{found['dtype']}, deterministic {'on' if found['deterministic'] else 'off'} ({found['seconds']} s)")
    if "error" in found:
        print(f"failed: {found['error']}")
        return
    print("size  invariant  consistent  mixed  max |diff| to alone")
    for s in found["sizes"]:
        flags = [("yes" if s[k] else "NO") for k in ("invariant", "consistent", "mixed")]
        print(f"{s['size']:>4}  {flags[0]:>9}  {flags[1]:>10}  {flags[2]:>5}  {s['maxAbsDiff']:.3g}")


def print_curve(curve) -> None:
    print(f"\nbatch curve, {curve['dtype']}: a = {curve['fit']['a']} ms, b = {curve['fit']['b']} ms per row")
    print("rows  ms/call  ms/row")
    for p in curve["points"]:
        print(f"{p['rows']:>4}  {p['msPerCall']:>7}  {p['msPerRow']:>6}")


if __name__ == "__main__":
    main()
