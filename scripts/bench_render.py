"""Benchmark of the render stage: where the time goes, in frames/s, on one clip in one run.

Measures on the same frames: decode + encode only (the I/O limit), inference only (L, network,
decode, bicubic upsampling), refinement only (each method, one process), and the whole render
(``vidcolor.render.render``) without and with refinement (worker processes).

    python scripts/bench_render.py [CLIP] --frames 48 --width 0.25 --threads 2

Without CLIP a synthetic cartoon clip is generated. The model is an untrained network of the
given width (speed does not depend on the weights).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch


def _clip(source: Path | None, frames: int, work: Path) -> Path:
    from vidcolor.video import VideoWriter, iter_frames, probe

    target = work / "clip.mkv"
    if source is None:
        import cv2

        height, width = 528, 704
        rng = np.random.default_rng(0)
        shapes = [(int(rng.integers(0, width)), int(rng.integers(0, height)),
                   int(rng.integers(15, 90)), int(rng.integers(30, 250))) for _ in range(25)]
        with VideoWriter(target, 25, width, height) as writer:
            for index in range(frames):
                grey = np.full((height, width), 200, np.uint8)
                for x, y, radius, value in shapes:
                    centre = (x + 3 * index, y)
                    cv2.circle(grey, centre, radius, value, -1)
                    cv2.circle(grey, centre, radius, 0, 2)
                writer.write(np.repeat(grey[..., None], 3, axis=2))
        return target
    info = probe(source)
    with VideoWriter(target, info.frame_rate, info.width, info.height,
                     time_base=info.time_base) as writer:
        for frame in iter_frames(source):
            if frame.index >= frames:
                break
            writer.write(frame.rgb, pts=frame.pts)
    return target


def _rate(count: int, seconds: float) -> str:
    return f"{count / seconds:8.2f} frames/s  ({1000 * seconds / count:7.1f} ms/frame)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("clip", nargs="?", type=Path, default=None)
    parser.add_argument("--frames", type=int, default=48)
    parser.add_argument("--width", type=float, default=0.25, help="model width multiplier")
    parser.add_argument("--arch", default="plain")
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--threads", type=int, default=2, help="torch threads")
    parser.add_argument("--workers", type=int, default=None, help="refinement processes")
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    from vidcolor import infer
    from vidcolor.checkpoint import CheckpointInfo, resolve_device, save_checkpoint
    from vidcolor.models import build_model
    from vidcolor.quantize import ab_gamut
    from vidcolor.refine import refine_and_combine
    from vidcolor.render import render
    from vidcolor.video import VideoWriter, iter_frames, probe

    device = resolve_device(args.device)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        clip = _clip(args.clip, args.frames, work)
        info = probe(clip)
        bins = ab_gamut()
        model = build_model(args.arch, "rebalance", args.width, len(bins))
        run = work / "run"
        run.mkdir()
        save_checkpoint(run, CheckpointInfo(args.arch, "rebalance", args.width, bins, None, None,
                                            1, {}, "", run, num_bins=len(bins)), model)
        print(f"clip {info.width}x{info.height}, {args.frames} frames; {args.arch} width "
              f"{args.width}, input {args.size}; device {device}, torch threads {args.threads}")

        start = time.perf_counter()
        frames = []
        with VideoWriter(work / "copy.mkv", info.frame_rate, info.width, info.height,
                         time_base=info.time_base) as writer:
            for frame in iter_frames(clip):
                frames.append(frame.rgb)
                writer.write(frame.rgb, pts=frame.pts)
        print(f"decode+encode only     {_rate(len(frames), time.perf_counter() - start)}")

        models = infer.load_models([run], device)
        lums = infer.luminance_of(frames[:2], device)
        infer.colorize_batch(models, lums, size=args.size)  # warm-up
        start = time.perf_counter()
        abs_ = []
        for first in range(0, len(frames), args.batch_size):
            lums = infer.luminance_of(frames[first:first + args.batch_size], device)
            abs_ += [(lum, out[0]) for lum, out in zip(
                lums, infer.colorize_batch(models, lums, size=args.size), strict=True)]
        print(f"inference only         {_rate(len(frames), time.perf_counter() - start)}")

        start = time.perf_counter()
        for lum, ab in abs_:
            infer.lab_to_rgb_uint8(lum, ab, device)
        print(f"Lab->RGB only          {_rate(len(frames), time.perf_counter() - start)}")

        for method in ("regiongrow", "felzenszwalb"):
            start = time.perf_counter()
            for lum, ab in abs_:
                refine_and_combine(lum, [ab], method)
            print(f"refine {method:<13s}   {_rate(len(frames), time.perf_counter() - start)}"
                  "  (one process)")

        for method in ("none", "regiongrow", "felzenszwalb"):
            start = time.perf_counter()
            render(clip, [run], work / f"out-{method}.mkv", refine=method, size=args.size,
                   batch_size=args.batch_size, device=str(device), workers=args.workers)
            elapsed = time.perf_counter() - start
            print(f"render --refine {method:<12s} {_rate(len(frames), elapsed)}")


if __name__ == "__main__":
    main()
