"""Benchmark of the dataset stage: decode-only vs. build-dataset throughput, and peak memory.

Prints measured figures; asserts nothing. By default it generates a demo episode (deterministic)
so that it needs no media; pass a video to measure that instead. Decoding to RGB and building
alternate ``--repeat`` times (the machine may be shared), and the ratio build / decode-to-RGB
is printed for each round with the median.

    python scripts/bench_dataset.py                     # 2-minute 320x240 demo episode
    python scripts/bench_dataset.py --width 704 --height 528 --seconds 60
    python scripts/bench_dataset.py some_episode.mkv
    python scripts/bench_dataset.py --memory            # also: peak RSS, short vs. long episode
    python scripts/bench_dataset.py --kmeans            # credit k-means: scikit-learn vs NumPy
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np


def _cpu_seconds() -> float:
    """CPU time of this process, all threads (less sensitive than wall time to other load)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def decode_only(path: Path, to_rgb: bool, reuse: bool = False) -> tuple[int, float, float]:
    """Frames, wall and CPU seconds to decode ``path`` with PyAV alone.

    ``to_rgb``: convert each frame to an RGB array with ``frame.to_ndarray`` (what the issue's
    ratio is measured against); ``reuse``: through one reused ``VideoReformatter`` instead,
    which keeps FFmpeg's conversion context (what vidcolor's decoding does).
    """
    from av.video.reformatter import VideoReformatter

    reformatter = VideoReformatter()
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        started, cpu = time.perf_counter(), _cpu_seconds()
        count = 0
        for frame in container.decode(stream):
            if to_rgb and reuse:
                reformatter.reformat(frame, format="rgb24").to_ndarray()
            elif to_rgb:
                frame.to_ndarray(format="rgb24")
            count += 1
        return count, time.perf_counter() - started, _cpu_seconds() - cpu


def build(paths: list[Path], output: Path) -> tuple[int | None, float, float, dict]:
    """Frames decoded, wall and CPU seconds, and per-episode counts of one build.

    A greyscale input (a black-and-white film) is decoded whole, then refused: the frames are
    None and the seconds are the time to the refusal.
    """
    from vidcolor.dataset.build import build_dataset
    from vidcolor.errors import DatasetError

    started, cpu = time.perf_counter(), _cpu_seconds()
    try:
        report = build_dataset(paths, output)
    except DatasetError as exc:
        if "no colour frames" not in str(exc):
            raise
        return None, time.perf_counter() - started, _cpu_seconds() - cpu, {"refused": str(exc)}
    seconds, cpu_seconds = time.perf_counter() - started, _cpu_seconds() - cpu
    stats = {e.episode: {"decoded": e.decoded, "stored": e.stored, "credits": e.credits}
             for e in report.episodes}
    return report.decoded, seconds, cpu_seconds, stats


def peak_rss_of_build(video: Path, output: Path) -> float:
    """Peak resident memory (MiB) of a fresh process that builds a dataset from ``video``."""
    code = (
        "import resource, sys\n"
        "from vidcolor.dataset.build import build_dataset\n"
        "build_dataset([sys.argv[1]], sys.argv[2])\n"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)\n"
    )
    result = subprocess.run([sys.executable, "-c", code, str(video), str(output)],
                            capture_output=True, text=True, check=True)
    return float(result.stdout.strip().splitlines()[-1])


def numpy_kmeans2(pixels: np.ndarray, iterations: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """The hand-written NumPy 2-means that scikit-learn's KMeans replaced (for comparison)."""
    brightness = pixels.sum(axis=1)
    centroids = np.stack([pixels[brightness.argmin()], pixels[brightness.argmax()]]).astype(
        np.float64)
    labels = np.zeros(len(pixels), dtype=np.intp)
    for step in range(iterations):
        distance = ((pixels[:, None, :] - centroids[None]) ** 2).sum(axis=2)
        new_labels = distance.argmin(axis=1)
        if step and np.array_equal(new_labels, labels):
            break
        labels = new_labels
        for k in range(2):
            members = pixels[labels == k]
            if len(members):
                centroids[k] = members.mean(axis=0)
    return centroids, np.bincount(labels, minlength=2)


def sklearn_all_threads(pixels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's KMeans as vidcolor calls it, but with its default OpenMP threads."""
    from sklearn.cluster import KMeans

    brightness = pixels.sum(axis=1)
    start = np.stack([pixels[brightness.argmin()], pixels[brightness.argmax()]])
    fitted = KMeans(n_clusters=2, init=start, n_init=1, max_iter=10, tol=0.0,
                    algorithm="lloyd").fit(pixels)
    return fitted.cluster_centers_, np.bincount(fitted.labels_, minlength=2)


def kmeans_costs(tmp: Path, repeats: int = 3) -> None:
    """Per-frame cost of the credit test's 2-means, scikit-learn vs NumPy, on 64x64 samples.

    Two sets: the demo series' deduplicated frames that reach clustering (the prefilter skips
    the rest), and frames of random colours (no early convergence: all 10 iterations). Also
    checks that both give the same credit decision on every demo frame.
    """
    from vidcolor import extract
    from vidcolor.demo.generate import generate_series
    from vidcolor.video.decode import iter_frames

    rule = extract.CreditRule()
    series = generate_series(tmp / "demo")
    demo, deduplicated = [], 0
    for path in series.colour_paths:
        dedup = extract.DuplicateFilter()
        for frame in iter_frames(path, size=(256, 256)):
            if not dedup(frame.rgb)[0]:
                continue
            deduplicated += 1
            rows = np.linspace(0, 255, rule.sample_side).astype(np.intp)
            pixels = frame.rgb[np.ix_(rows, rows)].reshape(-1, 3).astype(np.float64)
            if not extract._too_bright_for_credits(pixels, rule):
                demo.append(pixels)
    rng = np.random.default_rng(0)
    noise = [rng.integers(0, 256, (rule.sample_side ** 2, 3)).astype(np.float64)
             for _ in range(100)]
    extract.kmeans2(noise[0])  # import scikit-learn and inspect the thread pools once
    print(f"demo series      {deduplicated} deduplicated frames, {len(demo)} reach k-means")
    for label, frames in (("demo frames", demo), ("random colours", noise)):
        for name, method in (("scikit-learn", extract.kmeans2), ("numpy", numpy_kmeans2),
                             ("sklearn, all threads", sklearn_all_threads)):
            times = []
            for _ in range(repeats):
                started = time.perf_counter()
                for pixels in frames:
                    method(pixels)
                times.append((time.perf_counter() - started) / len(frames) * 1e3)
            print(f"k-means {label:15s} {name:21s} "
                  f"{' '.join(f'{t:.2f}' for t in times)} ms/frame")
    original = extract.kmeans2
    decisions = []
    for method in (original, numpy_kmeans2):
        extract.kmeans2 = method
        decisions.append([extract.credit_clusters(pixels, rule) for pixels in demo])
    extract.kmeans2 = original
    differ = sum(a != b for a, b in zip(*decisions, strict=True))
    print(f"credit decisions on the demo frames: {sum(decisions[0])} credits with scikit-learn, "
          f"{sum(decisions[1])} with numpy, {differ} differ")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("video", nargs="?", type=Path, help="episode to measure (default: demo)")
    parser.add_argument("--seconds", type=float, default=120.0, help="demo episode length")
    parser.add_argument("--width", type=int, default=320)
    parser.add_argument("--height", type=int, default=240)
    parser.add_argument("--repeat", type=int, default=3, help="rounds of decode + build")
    parser.add_argument("--memory", action="store_true",
                        help="also compare peak memory of a short and a 5x longer episode")
    parser.add_argument("--kmeans", action="store_true",
                        help="only measure the credit test's k-means (scikit-learn vs NumPy)")
    args = parser.parse_args()

    from vidcolor.demo.generate import generate_episode

    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        if args.kmeans:
            kmeans_costs(tmp)
            return
        video = args.video
        if video is None:
            video = tmp / "episode.mkv"
            generate_episode(video, seconds=args.seconds, width=args.width, height=args.height,
                             fps=Fraction(25))
        build([video], tmp / "warm-up")  # imports and first-use costs out of the rounds
        shutil.rmtree(tmp / "warm-up", ignore_errors=True)
        frames, raw_s, raw_cpu = decode_only(video, to_rgb=False)
        print(f"input            {video.name}: {frames} frames")
        print(f"decode only      {frames / raw_s:8.1f} frames/s, {1e3 * raw_cpu / frames:.3f} "
              "CPU ms/frame  (PyAV, no pixel conversion)")
        ratios = []
        for round_ in range(args.repeat):
            _, rgb_s, rgb_cpu = decode_only(video, to_rgb=True)
            _, reuse_s, reuse_cpu = decode_only(video, to_rgb=True, reuse=True)
            built, build_s, build_cpu, stats = build([video], tmp / "dataset")
            shutil.rmtree(tmp / "dataset", ignore_errors=True)
            built = frames if built is None else built  # refused greyscale: decoded whole
            ratios.append(((built / build_s) / (frames / rgb_s),
                           (built / build_s) / (frames / reuse_s)))
            print(f"round {round_ + 1}: frames/s (CPU ms/frame): decode to RGB "
                  f"{frames / rgb_s:.0f} ({1e3 * rgb_cpu / frames:.3f}), same with a reused "
                  f"reformatter {frames / reuse_s:.0f} ({1e3 * reuse_cpu / frames:.3f}), "
                  f"build-dataset {built / build_s:.0f} ({1e3 * build_cpu / built:.3f}); "
                  f"ratio {ratios[-1][0]:.2f} ({ratios[-1][1]:.2f} to the reused one)")
        print(f"build-dataset / decode to RGB, median of {args.repeat} rounds: "
              f"{statistics.median(r for r, _ in ratios):.2f} "
              f"({statistics.median(r for _, r in ratios):.2f} to decoding with a reused "
              "reformatter)")
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
