"""Benchmark training throughput (images/s) of the colourisation networks on synthetic frames.

Measures one full optimiser step per micro-batch (uint8 → device → Lab → soft-encoded targets
→ forward → rebalanced loss → backward → Adam), the same code path as ``vidcolor train``:

    python scripts/bench_train.py                       # thesis size, 224², batch 48 + demo model
    python scripts/bench_train.py --device cpu --threads 2 --skip-full

On CUDA the full-size runs use bf16 autocast and channels_last like training does. On a CPU the
full-size networks are measured with a smaller batch (``--cpu-batch``), as 48 frames of 224² take
minutes there; images/s is what is reported either way.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from vidcolor.checkpoint import resolve_device
from vidcolor.models import build_model, count_parameters
from vidcolor.quantize import ab_gamut, rebalance_weights
from vidcolor.train import compute_loss


def bench(arch: str, variant: str, width: float, crop: int, batch: int, steps: int,
          warmup: int, device: torch.device) -> float:
    """Training images/s of one configuration on random frames."""
    torch.manual_seed(0)
    bins_np = ab_gamut()
    bins = torch.from_numpy(bins_np).to(device)
    weights = torch.from_numpy(
        rebalance_weights(np.full(len(bins_np), 1.0 / len(bins_np))).astype(np.float32)
    ).to(device)
    model = build_model(arch, variant, width, len(bins_np)).to(device).train()
    cuda = device.type == "cuda"
    if cuda:
        model = model.to(memory_format=torch.channels_last)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    frames = torch.randint(0, 256, (batch, 3, crop, crop), dtype=torch.uint8)
    if cuda:
        frames = frames.pin_memory()

    def step() -> None:
        batch_dev = frames.to(device, non_blocking=True)
        loss = compute_loss(model, batch_dev, bins, weights, model.head, autocast=cuda,
                            channels_last=cuda)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    for _ in range(warmup):
        step()
    if cuda:
        torch.cuda.synchronize()
    started = time.perf_counter()
    for _ in range(steps):
        step()
    if cuda:
        torch.cuda.synchronize()
    return steps * batch / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--batch", type=int, default=48, help="batch of the full-size runs")
    parser.add_argument("--cpu-batch", type=int, default=4, help="full-size batch on a CPU")
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--skip-full", action="store_true", help="only the demo model")
    parser.add_argument("--demo-width", type=float, default=0.125)
    parser.add_argument("--demo-crop", type=int, default=64)
    parser.add_argument("--demo-batch", type=int, default=16)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    print(f"device: {name}, torch {torch.__version__}, {torch.get_num_threads()} CPU threads")
    rows = []
    if not args.skip_full:
        batch = args.batch if device.type == "cuda" else args.cpu_batch
        steps = args.steps if device.type == "cuda" else 2
        for arch in ("plain", "residual"):
            rows.append((arch, 1.0, 224, batch, device,
                         bench(arch, "rebalance", 1.0, 224, batch, steps, 2, device)))
    cpu = torch.device("cpu")
    for arch in ("plain", "residual"):
        rows.append((arch, args.demo_width, args.demo_crop, args.demo_batch, cpu,
                     bench(arch, "rebalance", args.demo_width, args.demo_crop, args.demo_batch,
                           max(args.steps, 5), 2, cpu)))
    print(f"{'arch':9} {'width':>6} {'crop':>5} {'batch':>6} {'device':>7} {'params':>11} "
          f"{'img/s':>8}")
    for arch, width, crop, batch, dev, rate in rows:
        params = count_parameters(build_model(arch, "rebalance", width, len(ab_gamut())))
        print(f"{arch:9} {width:6g} {crop:5d} {batch:6d} {dev.type:>7} {params:11,d} "
              f"{rate:8.1f}")


if __name__ == "__main__":
    main()
