"""Benchmark of the render stage: where the time goes, in frames/s, on one clip in one run.

Measures on the same clip:

- decode + encode only (the I/O limit);
- inference only: the network(s) on batches of L, decoded to ab at the network's resolution;
- per-frame colour work without refinement (L of the frame, bicubic ab upsampling of each
  model, ensemble mean, Lab→RGB), one process;
- refinement only, per method: segmentation of L (once, shared) + 2-means fill of each model's
  ab, one process, also split into segmentation and fill;
- the whole render (:func:`vidcolor.inference.render.render`: decode thread, network, worker
  pool, encoder, segments joined at the end), per frame (``--no-temporal --no-palette
  --no-neutral --no-credits``: the chain as it was before temporal stabilisation and the
  series look) for ``--refine none``, ``regiongrow``, ``felzenszwalb`` (and Felzenszwalb at
  ``--working-scale``), then with temporal stabilisation, and with the defaults (series look
  learnt from the generated colour clip and stored beside the models);
- ``vidcolor evaluate`` of the default render against the colour clip (with ``--truth``).

    python scripts/bench_render.py [CLIP] --seconds 10 --models 2 --width 0.25

Without CLIP a 704×528 demo episode is generated (:func:`vidcolor.demo.generate.generate_episode`).
The models are untrained networks of the given width built with :func:`vidcolor.models.build_model`
and saved with the training stage's checkpoint writer (speed does not depend on the weights; their
parameters are scaled up so that the colours, and so the gamut work, are not all grey).
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import numpy as np
import torch


def _save_models(work: Path, count: int, arch: str, width: float) -> list[Path]:
    from vidcolor.checkpoint.layout import CheckpointInfo
    from vidcolor.checkpoint.write import save_checkpoint
    from vidcolor.models import build_model
    from vidcolor.quantize import ab_gamut

    bins = ab_gamut()
    runs = []
    for index in range(count):
        torch.manual_seed(index)
        model = build_model(arch, "rebalance", width, len(bins))
        with torch.no_grad():  # an untrained head predicts near-grey: make colours visible
            for param in model.parameters():
                param.mul_(2.0)
        run = work / f"run{index}"
        run.mkdir()
        save_checkpoint(run, CheckpointInfo(arch=arch, variant="rebalance", width=width,
                                            bins=bins, prior=None, weights=None, epoch=1,
                                            config={}, version="", path=run,
                                            num_bins=len(bins), head="histogram"), model)
        runs.append(run)
    return runs


def _save_look(colour: Path, runs: list[Path]) -> None:
    """A series look learnt from every 4th frame of the colour clip, beside each model."""
    from vidcolor.series import SERIES_FILE
    from vidcolor.series.learn import look_of_frames
    from vidcolor.video.decode import iter_frames

    frames = (frame.rgb for frame in iter_frames(colour) if frame.index % 4 == 0)
    look = look_of_frames(frames, ((0.0, 30.0, 255.0), (238.0, 242.0, 255.0)))
    for run in runs:
        look.save(run / SERIES_FILE)


class _Table:
    def __init__(self) -> None:
        self.rows: list[tuple[str, float, str]] = []

    def add(self, name: str, frames: int, seconds: float, note: str = "") -> None:
        self.rows.append((name, frames / seconds, note))
        print(f"  {name:<38s} {frames / seconds:8.2f} frames/s "
              f"{1000 * seconds / frames:8.1f} ms/frame  {note}", flush=True)

    def show(self) -> None:
        print("\n| stage | frames/s | ms/frame | note |\n|---|---:|---:|---|")
        for name, rate, note in self.rows:
            print(f"| {name} | {rate:.2f} | {1000 / rate:.1f} | {note} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("clip", nargs="?", type=Path, default=None)
    parser.add_argument("--seconds", type=float, default=10.0, help="demo clip length")
    parser.add_argument("--models", type=int, default=2, help="models in the mean ensemble")
    parser.add_argument("--width", type=float, default=0.25, help="model width multiplier")
    parser.add_argument("--arch", default="plain")
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--threads", type=int, default=None,
                        help="torch threads for the inference-only stage (default: all)")
    parser.add_argument("--workers", type=int, default=None, help="render worker processes")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--stage-frames", type=int, default=48,
                        help="frames for the one-process refinement stages")
    parser.add_argument("--working-scale", type=float, default=0.5)
    parser.add_argument("--skip-render", action="store_true")
    parser.add_argument("--repeat", type=int, default=1,
                        help="render each variant this many times (interleaved), keep the "
                             "fastest: this machine's timings wander by 10 %% from run to run")
    parser.add_argument("--only", default=None, metavar="TEXT",
                        help="run only the whole-render variants whose name contains TEXT")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    import cv2

    from vidcolor.color.frames import lightness as frame_luminance
    from vidcolor.devices import resolve_device
    from vidcolor.inference.colorizer import Colorizer, load_models
    from vidcolor.inference.ensemble import mean_ab
    from vidcolor.inference.options import RenderOptions
    from vidcolor.inference.refine.fill import fill_regions
    from vidcolor.inference.refine.registry import segment
    from vidcolor.inference.render import render
    from vidcolor.inference.stages import FrameWork, Paint, ToRGB
    from vidcolor.video.decode import iter_frames
    from vidcolor.video.probe import probe
    from vidcolor.video.writer import VideoWriter

    cv2.setNumThreads(1)
    device = resolve_device(args.device)
    table = _Table()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        clip = args.clip
        if clip is None:
            from vidcolor.demo.generate import generate_episode

            clip = work / "bw.mkv"
            generate_episode(work / "colour.mkv", clip, seconds=args.seconds, width=704,
                             height=528, fps=Fraction(24))
        info = probe(clip)
        runs = _save_models(work, args.models, args.arch, args.width)
        truth = work / "colour.mkv" if args.clip is None else None
        print(f"clip {info.width}x{info.height}, {info.frame_count} frames; {args.models} x "
              f"{args.arch} width {args.width}, input {args.size}, batch {args.batch_size}; "
              f"device {device}; {os.cpu_count()} CPUs, torch threads "
              f"{torch.get_num_threads()}", flush=True)

        start = time.perf_counter()
        frames = []
        with VideoWriter(work / "copy.mkv", info.frame_rate, info.width, info.height,
                         time_base=info.time_base) as writer:
            for frame in iter_frames(clip):
                frames.append(frame.rgb)
                writer.write(frame.rgb, pts=frame.pts)
        count = len(frames)
        table.add("decode+encode only (I/O limit)", count, time.perf_counter() - start)

        start = time.perf_counter()
        lums = [frame_luminance(rgb) for rgb in frames]
        table.add("L of the frame (OpenCV)", count, time.perf_counter() - start)

        colorizer = Colorizer(load_models(runs, device), size=args.size, ensemble="mean")
        colorizer.predict(lums[:2])  # warm-up
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        small = []
        for first in range(0, count, args.batch_size):
            small += [p.ab for p in colorizer.predict(lums[first:first + args.batch_size])]
        table.add(f"inference only ({args.models} models)", count, time.perf_counter() - start,
                  f"torch threads {torch.get_num_threads()}")

        start = time.perf_counter()
        for index, (lum, abs_) in enumerate(zip(lums, small, strict=True)):
            frame = FrameWork(index=index, key=index, pts=None, lightness=lum, ab_small=abs_)
            ToRGB().apply(Paint().apply(frame))
        table.add("upsample + mean + Lab->RGB", count, time.perf_counter() - start,
                  "one process")

        n = min(args.stage_frames, count)
        picks = np.linspace(0, count - 1, n).astype(int)
        full_abs = {}
        for index in picks:
            shape = lums[index].shape
            full_abs[index] = [cv2.resize(ab, (shape[1], shape[0]),
                                          interpolation=cv2.INTER_CUBIC) for ab in small[index]]
        methods = [("regiongrow", {}), ("felzenszwalb", {}),
                   ("felzenszwalb", {"working_scale": args.working_scale})]
        for method, options in methods:
            name = method + (f" @{options['working_scale']}" if options else "")
            seg_time = fill_time = 0.0
            regions = 0
            for index in picks:
                start = time.perf_counter()
                labels = segment(lums[index], method, **options)
                middle = time.perf_counter()
                mean_ab([fill_regions(ab, labels) for ab in full_abs[index]])
                seg_time += middle - start
                fill_time += time.perf_counter() - middle
                regions += int(labels.max()) + 1
            table.add(f"refine {name} (segment + fill)", n, seg_time + fill_time,
                      f"one process, {regions / n:.0f} regions/frame")
            table.add(f"  segment {name}", n, seg_time)
            table.add(f"  fill x{args.models} models", n, fill_time)

        if not args.skip_render:
            per_frame = {"sequence": (), "palette": False, "neutral": False, "credits": False}
            variants = [(f"render --refine {m}" + (f" @{o['working_scale']}" if o else ""),
                         {"refine": m, "refine_options": o, **per_frame})
                        for m, o in [("none", {}), *methods]]
            variants += [("render --refine none --temporal",
                          {**per_frame, "refine": "none", "sequence": ("shots", "temporal")}),
                         ("render --refine felzenszwalb --temporal",
                          {**per_frame, "refine": "felzenszwalb",
                           "sequence": ("shots", "temporal")})]
            if truth is not None:
                variants.append(("render with the defaults (look learnt from the clip)", {}))
            if args.only:
                variants = [(name, settings) for name, settings in variants
                            if args.only in name]
            out = work / "out.mkv"
            best: dict[str, float] = {}
            for _ in range(args.repeat):  # interleaved, so a slow spell hits every variant
                for name, settings in variants:
                    if not settings:  # the defaults need the series look beside the models
                        _save_look(truth, runs)
                    options = RenderOptions(ensemble="mean", size=args.size,
                                            batch_size=args.batch_size, device=str(device),
                                            workers=args.workers, **settings)
                    # a finished render with the same options would be kept, not timed
                    for stale in [*work.glob("out.mkv*"), *work.glob(".out.mkv*")]:
                        if stale.is_dir():
                            shutil.rmtree(stale)
                        else:
                            stale.unlink()
                    start = time.perf_counter()
                    render(clip, runs, out, options=options)
                    best[name] = min(best.get(name, math.inf), time.perf_counter() - start)
            for name, _ in variants:
                table.add(name, count, best[name], "whole chain, workers "
                          f"{'default' if args.workers is None else args.workers}"
                          + (f", best of {args.repeat}" if args.repeat > 1 else ""))
            if truth is not None and variants and not variants[-1][1]:  # the defaults ran
                from vidcolor.evaluation.results import evaluate_results

                start = time.perf_counter()
                evaluate_results([out], truth)
                table.add("evaluate the default render against the truth", count,
                          time.perf_counter() - start, "vidcolor evaluate OUT --truth")
    table.show()


if __name__ == "__main__":
    main()
