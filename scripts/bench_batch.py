"""Benchmark of a season render: one ``vidcolor render`` of N episodes against N separate calls.

Both run the real command in a subprocess (``python -m vidcolor render``, this checkout first on
the path), on the same clips, with the same model and options, into fresh output folders (so
nothing is skipped). What the batch saves is the per-call start: Python and torch imports, the
models loaded, the worker pool spawned (once instead of N times).

    python scripts/bench_batch.py --episodes 4 --seconds 5 --repeat 2

The episodes are demo episodes (:func:`vidcolor.demo.generate.generate_episode`, their
black-and-white twins are rendered); the model is an untrained network of the demo's size saved with
the training stage's checkpoint writer (speed does not depend on the weights). ``--devices cpu,cpu``
adds a third run: the batch with two device worker processes (a stand-in for two GPUs; on a CPU it
only helps where cores are idle). Extra render options go after ``--``, e.g. ``-- --refine none``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _save_model(work: Path, arch: str, width: float) -> Path:
    import torch

    from vidcolor.checkpoint.layout import CheckpointInfo
    from vidcolor.checkpoint.write import save_checkpoint
    from vidcolor.models import build_model
    from vidcolor.quantize import ab_gamut

    bins = ab_gamut()
    torch.manual_seed(0)
    model = build_model(arch, "rebalance", width, len(bins))
    with torch.no_grad():  # an untrained head predicts near-grey: make colours visible
        for param in model.parameters():
            param.mul_(2.0)
    run = work / "run"
    run.mkdir()
    save_checkpoint(run, CheckpointInfo(arch=arch, variant="rebalance", width=width, bins=bins,
                                        prior=None, weights=None, epoch=1, config={},
                                        version="", path=run, num_bins=len(bins),
                                        head="histogram"), model)
    return run


def _vidcolor(args: list[str]) -> tuple[float, float]:
    """Run ``python -m vidcolor -q ARGS`` in a subprocess: its (wall, CPU) seconds.

    The CPU seconds (user + system of the command and of the processes it waited for: its
    worker pools) are what the command cost, much less disturbed than wall time when other
    work shares the cores.
    """
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]))
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "vidcolor", "-q", *args], env=env,
                          capture_output=True, text=True)
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode:
        sys.exit(f"vidcolor {' '.join(args)} failed ({done.returncode}):\n{done.stderr}")
    return seconds, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--episodes", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=5.0, help="length of each episode")
    parser.add_argument("--width", type=int, default=256)
    parser.add_argument("--height", type=int, default=192)
    parser.add_argument("--arch", default="residual")
    parser.add_argument("--model-width", type=float, default=0.125,
                        help="width multiplier of the model (0.125: the demo's)")
    parser.add_argument("--repeat", type=int, default=1,
                        help="measure each way this many times (alternating); the median")
    parser.add_argument("--devices", default=None,
                        help="also time the batch with --devices (e.g. cpu,cpu)")
    parser.add_argument("render_options", nargs="*",
                        help="extra options for vidcolor render (after --)")
    args = parser.parse_args()

    sys.path.insert(0, str(ROOT))
    from vidcolor.demo.generate import generate_episode

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        season = work / "season"
        season.mkdir()
        frames = 0
        for number in range(1, args.episodes + 1):
            frames += generate_episode(work / f"ep{number:02d}.mkv",
                                       season / f"ep{number:02d}_bw.mkv", episode=number,
                                       seconds=args.seconds, width=args.width,
                                       height=args.height, fps=Fraction(24))
        episodes = sorted(str(p) for p in season.iterdir())
        run = _save_model(work, args.arch, args.model_width)
        common = ["-m", str(run), *args.render_options]
        print(f"{args.episodes} episodes x {args.seconds:g} s, {args.width}x{args.height}, "
              f"{frames} frames in all; {args.arch} width {args.model_width}; render options: "
              f"{' '.join(args.render_options) or 'defaults'}; {os.cpu_count()} CPUs",
              flush=True)

        ways: dict[str, list[tuple[float, float]]] = {"separate": [], "batch": []}
        if args.devices:
            ways[f"batch --devices {args.devices}"] = []
        for attempt in range(args.repeat):
            for number, (way, times) in enumerate(ways.items()):
                out = work / f"out-{attempt}-{number}"  # fresh: nothing is skipped
                if way == "separate":
                    out.mkdir()
                    calls = [_vidcolor(["render", episode, "-o",
                                        str(out / Path(episode).with_suffix(".out.mkv").name),
                                        *common]) for episode in episodes]
                    measured = (sum(c[0] for c in calls), sum(c[1] for c in calls))
                    rendered = len(list(out.glob("*.out.mkv")))
                else:
                    devices = ["--devices", args.devices] if "devices" in way else []
                    measured = _vidcolor(["render", *episodes, "-o", str(out), *common,
                                          *devices])
                    rendered = json.loads((out / "season.json").read_text())["done"]
                if rendered != len(episodes):
                    sys.exit(f"{way}: {rendered} of {len(episodes)} episodes rendered")
                times.append(measured)
                print(f"  {way:<28s} {measured[0]:7.1f} s wall {measured[1]:7.1f} s CPU  "
                      f"{frames / measured[0]:6.1f} frames/s", flush=True)

        wall = {way: statistics.median(t[0] for t in times) for way, times in ways.items()}
        cpu = {way: statistics.median(t[1] for t in times) for way, times in ways.items()}
        print("\n| way | wall s | CPU s | frames/s (wall) | speed-up (wall) | CPU saved |"
              "\n|---|---:|---:|---:|---:|---:|")
        for way in ways:
            print(f"| {way} | {wall[way]:.1f} | {cpu[way]:.1f} | {frames / wall[way]:.1f} | "
                  f"{wall['separate'] / wall[way]:.2f}x | "
                  f"{cpu['separate'] - cpu[way]:.1f} s |")
        print(f"(medians of {args.repeat}; wall time is disturbed by other work on the cores, "
              "CPU time much less)")

if __name__ == "__main__":
    main()
