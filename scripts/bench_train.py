"""Benchmark training throughput (images/s) of the colourisation networks on synthetic frames.

Each step is what ``vidcolor train`` does per micro-batch, through the same functions
(:class:`vidcolor.training.step.Accel` and :func:`vidcolor.training.step.micro_step`): host
uint8 batch → device (pinned, non-blocking on CUDA) → Lab → soft-encoded targets → forward
(bf16 autocast, channels_last on CUDA) → float32 rebalanced loss → backward, then Adam every
``--accumulate`` micro-batches::

    python scripts/bench_train.py                                  # all, on the default device
    python scripts/bench_train.py --device cpu --threads 2 --steps 2 --warmup 1 --skip-demo
    python scripts/bench_train.py --device cpu --threads 2 --skip-full   # demo model only

Full size: plain and residual, width 1, 224² crops, batch 48 (the thesis's effective batch, as
one micro-batch). Demo: width 0.125, 64² crops, batch 16 × accumulate 3 (``pipelines/demo.sh``);
goal on a CPU: at least 50 images/s. On CUDA the demo model is measured on the CPU as well.
"""

from __future__ import annotations

import argparse
import platform
import time
from dataclasses import dataclass

import numpy as np
import torch

from vidcolor.devices import resolve_device
from vidcolor.models import build_model, count_parameters
from vidcolor.quantize import ab_gamut, rebalance_weights
from vidcolor.training.step import Accel, micro_step

#: Demo model goal on a CPU, images/s.
DEMO_GOAL = 50.0


@dataclass
class Result:
    """One measured configuration."""

    arch: str
    width: float
    crop: int
    batch: int
    accumulate: int
    device: str
    params: int
    steps: int
    seconds: float
    peak_gib: float | None = None

    @property
    def images_per_s(self) -> float:
        return self.steps * self.batch / self.seconds

    @property
    def seconds_per_step(self) -> float:
        return self.seconds / self.steps


def device_name(device: torch.device) -> str:
    """A readable name: the GPU's, or the CPU model with the torch thread count."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"CPU {model} ({torch.get_num_threads()} torch threads)"


def bench(arch: str, width: float, crop: int, batch: int, steps: int, warmup: int,
          accel: Accel, accumulate: int = 1, variant: str = "rebalance") -> Result:
    """Measure ``steps`` training micro-batches of one configuration on random frames.

    Args:
        arch, variant, width: the network.
        crop: square frame side.
        batch: micro-batch size.
        steps: timed micro-batches (an optimiser step every ``accumulate``).
        warmup: untimed micro-batches first (cuDNN autotuning, allocator, caches).
        accel: device settings, as training uses them (:meth:`Accel.for_device`).
        accumulate: micro-batches per optimiser step.

    Returns:
        The :class:`Result`.
    """
    torch.manual_seed(0)
    device = accel.device
    accel.setup()
    bins_np = ab_gamut()
    bins = torch.from_numpy(bins_np).to(device)
    uniform = np.full(len(bins_np), 1.0 / len(bins_np))
    weights = torch.from_numpy(rebalance_weights(uniform).astype(np.float32)).to(device)
    model = accel.place_model(build_model(arch, variant, width, len(bins_np))).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    frames = torch.randint(0, 256, (batch, 3, crop, crop), dtype=torch.uint8)
    if accel.pin_memory:
        frames = frames.pin_memory()

    def run(count: int) -> None:
        for i in range(count):
            micro_step(model, frames, bins, weights, model.head, accel, 1.0 / accumulate)
            if (i + 1) % accumulate == 0 or i + 1 == count:
                optimizer.step()
                optimizer.zero_grad(set_to_none=True)

    cuda = device.type == "cuda"
    run(warmup)
    if cuda:
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
    started = time.perf_counter()
    run(steps)
    if cuda:
        torch.cuda.synchronize(device)
    seconds = time.perf_counter() - started
    peak = torch.cuda.max_memory_allocated(device) / 2**30 if cuda else None
    return Result(arch, width, crop, batch, accumulate, device.type, count_parameters(model),
                  steps, seconds, peak)


def report(results: list[Result]) -> str:
    """A table of the results."""
    lines = [f"{'arch':9} {'width':>6} {'crop':>5} {'batch':>9} {'device':>7} {'params':>11} "
             f"{'s/step':>8} {'img/s':>8} {'peak GiB':>9}"]
    for r in results:
        batch = f"{r.batch}x{r.accumulate}" if r.accumulate > 1 else str(r.batch)
        peak = "-" if r.peak_gib is None else f"{r.peak_gib:.2f}"
        lines.append(f"{r.arch:9} {r.width:6g} {r.crop:5d} {batch:>9} {r.device:>7} "
                     f"{r.params:11,d} {r.seconds_per_step:8.3f} {r.images_per_s:8.1f} "
                     f"{peak:>9}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> list[Result]:
    """Parse options, run the benchmarks, print the figures; returns them."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--arch", nargs="+", default=["plain", "residual"],
                        choices=["plain", "residual"])
    parser.add_argument("--batch", type=int, default=48, help="full-size micro-batch")
    parser.add_argument("--crop", type=int, default=224, help="full-size crop")
    parser.add_argument("--steps", type=int, default=10, help="timed micro-batches per run")
    parser.add_argument("--warmup", type=int, default=2, help="untimed micro-batches first")
    parser.add_argument("--skip-full", action="store_true", help="only the demo model")
    parser.add_argument("--skip-demo", action="store_true", help="only the full-size models")
    parser.add_argument("--demo-width", type=float, default=0.125)
    parser.add_argument("--demo-crop", type=int, default=64)
    parser.add_argument("--demo-batch", type=int, default=16)
    parser.add_argument("--demo-accumulate", type=int, default=3)
    parser.add_argument("--demo-steps", type=int, default=None,
                        help="timed micro-batches of the demo model [default: max(--steps, 30)]")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    print(f"device: {device_name(device)}; torch {torch.__version__}", flush=True)
    accel = Accel.for_device(device)
    print(f"path: autocast bf16 {accel.autocast}, channels_last {accel.channels_last}, "
          f"pinned non-blocking copies {accel.pin_memory}", flush=True)
    results = []
    if not args.skip_full:
        for arch in args.arch:
            results.append(bench(arch, 1.0, args.crop, args.batch, args.steps, args.warmup,
                                 accel))
            print(report(results[-1:]).splitlines()[1], flush=True)
    if not args.skip_demo:
        devices = [device] + ([torch.device("cpu")] if device.type == "cuda" else [])
        demo_steps = args.demo_steps or max(args.steps, 30)
        for dev in devices:
            for arch in args.arch:
                results.append(bench(arch, args.demo_width, args.demo_crop, args.demo_batch,
                                     demo_steps, max(args.warmup, 3), Accel.for_device(dev),
                                     accumulate=args.demo_accumulate))
                print(report(results[-1:]).splitlines()[1], flush=True)
    print()
    print(report(results))
    for r in results:
        if r.width == args.demo_width and r.device == "cpu":
            verdict = "meets" if r.images_per_s >= DEMO_GOAL else "MISSES"
            print(f"demo {r.arch} on the CPU: {r.images_per_s:.1f} img/s {verdict} the "
                  f"{DEMO_GOAL:g} img/s goal")
    return results


if __name__ == "__main__":
    main()
