"""Benchmark of the dataset stage: decode-only vs. build-dataset throughput, and peak memory.

Prints measured figures; asserts nothing. By default it generates a demo episode (deterministic)
so that it needs no media; pass a video to measure that instead.

    python scripts/bench_dataset.py                     # 60 s demo episode at 704x528
    python scripts/bench_dataset.py some_episode.mkv
    python scripts/bench_dataset.py --memory            # also: peak RSS, short vs. long episode
    python scripts/bench_dataset.py --kmeans            # credit k-means: scikit-learn vs NumPy
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
import numpy as np


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
    from vidcolor.demo import generate_series
    from vidcolor.video import iter_frames

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
    parser.add_argument("--seconds", type=float, default=60.0, help="demo episode length")
    parser.add_argument("--width", type=int, default=704)
    parser.add_argument("--height", type=int, default=528)
    parser.add_argument("--memory", action="store_true",
                        help="also compare peak memory of a short and a 5x longer episode")
    parser.add_argument("--kmeans", action="store_true",
                        help="only measure the credit test's k-means (scikit-learn vs NumPy)")
    args = parser.parse_args()

    from vidcolor.demo import generate_episode

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
