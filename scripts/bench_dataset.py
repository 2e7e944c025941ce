"""Benchmark of the dataset stage: decode-only vs. build-dataset throughput, and peak memory.

Prints measured figures; asserts nothing. By default it generates a demo episode (deterministic)
so that it needs no media; pass a video to measure that instead.

    python scripts/bench_dataset.py                     # 60 s demo episode at 704x528
    python scripts/bench_dataset.py some_episode.mkv
    python scripts/bench_dataset.py --memory            # also: peak RSS, short vs. long episode
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import av


def decode_only(path: Path) -> tuple[int, float, float]:
    """Frames, seconds for plain decoding, seconds for decoding to RGB arrays (PyAV alone)."""
    timings = []
    for to_rgb in (False, True):
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            started = time.perf_counter()
            count = 0
            for frame in container.decode(stream):
                if to_rgb:
                    frame.to_ndarray(format="rgb24")
                count += 1
            timings.append(time.perf_counter() - started)
    return count, timings[0], timings[1]


def build(paths: list[Path], output: Path) -> tuple[int, float, dict]:
    from vidcolor.dataset import build_dataset

    started = time.perf_counter()
    report = build_dataset(paths, output)
    seconds = time.perf_counter() - started
    stats = {e.episode: {"decoded": e.decoded, "stored": e.stored, "credits": e.credits}
             for e in report.episodes}
    return report.decoded, seconds, stats


def peak_rss_of_build(video: Path, output: Path) -> float:
    """Peak resident memory (MiB) of a fresh process that builds a dataset from ``video``."""
    code = (
        "import resource, sys\n"
        "from vidcolor.dataset import build_dataset\n"
        "build_dataset([sys.argv[1]], sys.argv[2])\n"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)\n"
    )
    result = subprocess.run([sys.executable, "-c", code, str(video), str(output)],
                            capture_output=True, text=True, check=True)
    return float(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("video", nargs="?", type=Path, help="episode to measure (default: demo)")
    parser.add_argument("--seconds", type=float, default=60.0, help="demo episode length")
    parser.add_argument("--width", type=int, default=704)
    parser.add_argument("--height", type=int, default=528)
    parser.add_argument("--memory", action="store_true",
                        help="also compare peak memory of a short and a 5x longer episode")
    args = parser.parse_args()

    from vidcolor.demo import generate_episode

    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        video = args.video
        if video is None:
            video = tmp / "episode.mkv"
            generate_episode(video, seconds=args.seconds, width=args.width, height=args.height,
                             fps=Fraction(25))
        frames, raw_s, rgb_s = decode_only(video)
        built, build_s, stats = build([video], tmp / "dataset")
        print(f"input            {video.name}: {frames} frames")
        print(f"decode only      {frames / raw_s:8.1f} frames/s  (PyAV, no pixel conversion)")
        print(f"decode to RGB    {frames / rgb_s:8.1f} frames/s  (PyAV, rgb24 arrays)")
        print(f"build-dataset    {built / build_s:8.1f} frames/s  "
              f"({100 * (built / build_s) / (frames / rgb_s):.0f} % of decode to RGB, "
              f"{100 * (built / build_s) / (frames / raw_s):.0f} % of decode only)")
        print(f"episode stats    {json.dumps(stats)}")
        if args.memory:
            short, long = tmp / "short.mkv", tmp / "long.mkv"
            generate_episode(short, seconds=20, width=args.width, height=args.height,
                             fps=Fraction(25))
            generate_episode(long, seconds=100, width=args.width, height=args.height,
                             fps=Fraction(25))
            short_mib = peak_rss_of_build(short, tmp / "mem_short")
            long_mib = peak_rss_of_build(long, tmp / "mem_long")
            print(f"peak memory      {short_mib:.0f} MiB for 20 s, {long_mib:.0f} MiB for 100 s "
                  f"({long_mib / short_mib:.2f}x for 5x the length)")


if __name__ == "__main__":
    main()
