"""Benchmark of the streaming scorer (:class:`vidcolor.metrics.SequenceScorer`), in frames/s.

A synthetic clip is drawn in memory (the demo series' story frames,
:func:`vidcolor.demo.episode.iter_episode_frames`, 704×528 by default, credits skipped) and each
result is the truth with a colour change that differs per result and per frame (so every per-frame
and temporal measure has work to do). Frames are made before the clock starts; only ``scorer.add``
is timed. Every candidate count is also scored with ``temporal=False`` to show what the flow, warp
error and CDC cost.

    python scripts/bench_evaluate.py [--frames 48] [--width 704 --height 528] [--threads 1]

Each line: results, temporal on/off, frames/s and ms per frame (grey and truth are always
scored as well, so "2 results" is four candidates).
"""

from __future__ import annotations

import argparse
import time

import cv2
import numpy as np


def _clip(frames: int, width: int, height: int) -> list[np.ndarray]:
    from vidcolor.demo.episode import iter_episode_frames

    story = (frame.rgb for frame in iter_episode_frames(width=width, height=height, seconds=60)
             if not frame.is_credit)
    clip = [np.ascontiguousarray(rgb) for _, rgb in zip(range(frames), story, strict=False)]
    if len(clip) < frames:
        raise SystemExit(f"the demo episode has only {len(clip)} story frames")
    return clip


def _result(truth: np.ndarray, result: int, frame: int) -> np.ndarray:
    """The truth with one channel pushed up by an amount that changes per frame (flicker)."""
    shifted = truth.astype(np.int16)
    shifted[..., (result + frame) % 3] += 20 + 10 * result
    return np.clip(shifted, 0, 255).astype(np.uint8)


def _time(clip: list[np.ndarray], results: list[dict[str, np.ndarray]], temporal: bool,
          repeats: int) -> float:
    """Best seconds per frame over ``repeats`` passes over the clip."""
    from vidcolor.metrics import SequenceScorer

    names = list(results[0])
    best = float("inf")
    for _ in range(repeats):
        scorer = SequenceScorer(names, temporal=temporal)
        start = time.perf_counter()
        for truth, frame_results in zip(clip, results, strict=True):
            scorer.add(truth, frame_results)
        scorer.summary()
        best = min(best, (time.perf_counter() - start) / len(clip))
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=48)
    parser.add_argument("--width", type=int, default=704)
    parser.add_argument("--height", type=int, default=528)
    parser.add_argument("--threads", type=int, default=1, help="OpenCV and torch threads")
    parser.add_argument("--repeats", type=int, default=3, help="passes; the best is reported")
    parser.add_argument("--results", type=int, nargs="+", default=[0, 1, 2, 4])
    args = parser.parse_args()

    import torch

    cv2.setNumThreads(args.threads)
    torch.set_num_threads(args.threads)
    clip = _clip(args.frames, args.width, args.height)
    print(f"{args.frames} frames {args.width}×{args.height}, {args.threads} thread(s); "
          "grey and truth are scored in every run")
    for count in args.results:
        results = [{f"result{k}": _result(truth, k, i) for k in range(count)}
                   for i, truth in enumerate(clip)]
        for temporal in (True, False):
            seconds = _time(clip, results, temporal, args.repeats)
            print(f"{count} result(s), temporal {'on ' if temporal else 'off'}: "
                  f"{1 / seconds:6.1f} frames/s  {seconds * 1e3:6.1f} ms/frame")


if __name__ == "__main__":
    main()
