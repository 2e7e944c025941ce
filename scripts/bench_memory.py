"""Peak memory of ``vidcolor render`` against the length of the video: it must not grow.

Generates demo episodes of the given lengths (grey twins,
:func:`vidcolor.demo.generate.generate_episode`), renders each with ``python -m vidcolor render`` in
a subprocess with the given options (default: the defaults, so temporal stabilisation is on) and one
tiny model, and prints the peak resident memory of the render process (``getrusage``'s ``ru_maxrss``
of the waited-for children: the largest of the main process and its workers, measured by a wrapper
process per render so that one render's peak never hides another's) next to the frames and the time.

    python scripts/bench_memory.py --minutes 1 10 --width 256 --height 192
"""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path


def _model(folder: Path, width: float) -> Path:
    import torch

    from vidcolor.checkpoint.layout import CheckpointInfo
    from vidcolor.checkpoint.write import save_checkpoint
    from vidcolor.models import build_model
    from vidcolor.quantize import ab_gamut

    torch.manual_seed(0)
    bins = ab_gamut()
    model = build_model("residual", "rebalance", width, len(bins))
    run = folder / "run"
    run.mkdir()
    save_checkpoint(run, CheckpointInfo(arch="residual", variant="rebalance", width=width,
                                        bins=bins, prior=None, weights=None, epoch=1, config={},
                                        version="", path=run, num_bins=len(bins),
                                        head="histogram"), model)
    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, nargs="+", default=[1.0, 10.0])
    parser.add_argument("--width", type=int, default=256)
    parser.add_argument("--height", type=int, default=192)
    parser.add_argument("--model-width", type=float, default=0.125)
    parser.add_argument("--options", default="", help="extra render options, quoted")
    args = parser.parse_args()

    from vidcolor.demo.generate import generate_episode

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        run = _model(work, args.model_width)
        rows = []
        for minutes in args.minutes:
            clip = work / f"bw{minutes:g}.mkv"
            frames = generate_episode(work / f"colour{minutes:g}.mkv", clip,
                                      seconds=60.0 * minutes, width=args.width,
                                      height=args.height, fps=Fraction(24), audio=True)
            (work / f"colour{minutes:g}.mkv").unlink()
            command = [sys.executable, "-m", "vidcolor", "-q", "render", str(clip), "-m",
                       str(run), "-o", str(work / f"out{minutes:g}.mkv"),
                       *shlex.split(args.options)]
            wrapper = ("import resource, subprocess, sys\n"
                       f"subprocess.run({command!r}, check=True)\n"
                       "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
            started = time.perf_counter()
            result = subprocess.run([sys.executable, "-c", wrapper], check=True,
                                    capture_output=True, text=True)
            seconds = time.perf_counter() - started
            peak = int(result.stdout.strip().splitlines()[-1]) / 1024.0  # KiB -> MiB
            rows.append((minutes, frames, seconds, peak))
            print(f"{minutes:g} min: {frames} frames, {seconds:.0f} s ({frames / seconds:.1f} "
                  f"frames/s), peak RSS {peak:.0f} MiB", flush=True)
        print(f"\n{args.width}x{args.height}, options {args.options or '(defaults)'}, "
              f"{os.cpu_count()} CPUs")
        print("| minutes | frames | seconds | frames/s | peak RSS (MiB) |")
        print("|---|---|---|---|---|")
        for minutes, frames, seconds, peak in rows:
            print(f"| {minutes:g} | {frames} | {seconds:.0f} | {frames / seconds:.1f} | "
                  f"{peak:.0f} |")


if __name__ == "__main__":
    main()
