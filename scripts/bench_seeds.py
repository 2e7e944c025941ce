"""The README demo over several training seeds: what a user can expect, not what one run gave.

Every user trains their own model, and each training is a new trajectory (another seed, another
CPU's rounding). This runs ``pipelines/demo.sh`` once per seed (``SEED=N``), each in its own
folder (the demo series is drawn once and hard-linked into the others), and prints

* per seed and as median / worst: the closing table's figures (PSNR, RMSE αβ, the αβ error per
  lightness band, AuC, colourfulness, warp error, CDC) and the wall time of the seed's run;
* per seed and shot: the shot's mean PSNR beside its grey's, credit shots' lowest frame PSNR;
* the shots whose **decisions** differ between seeds: in the middle frame of every shot, each
  palette fill of the truth (pixels within ΔE 3 of a palette colour, at least 0.5 % of the
  frame) is matched with the palette colour nearest to what the render painted there; a fill
  painted as another colour of its lightness is a decision (``sky→wall``), and so is a credit
  shot painted in the credit colours or not.

    python scripts/bench_seeds.py --seeds 0 1 2 3 4 --work bench-seeds
    python scripts/bench_seeds.py --seeds 0 1 2 3 4 --work bench-seeds --render-only

``--render-only`` keeps each seed's trained model (and the series look its run carries) and runs
only demo.sh's render and evaluate commands again (after a change to rendering); ``--json FILE``
writes every figure. Nothing here is asserted: it measures.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from fractions import Fraction
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
DEMO = REPO / "pipelines" / "demo.sh"
#: The closing table's rows: (key in report.json, label, which way is better).
FIGURES = (("psnr", "PSNR", "high"), ("ab_rmse", "RMSE αβ", "low"),
           ("ab_l0_20", "αβ L 0–20", "low"), ("ab_l20_40", "αβ L 20–40", "low"),
           ("ab_l40_60", "αβ L 40–60", "low"), ("ab_l60_80", "αβ L 60–80", "low"),
           ("ab_l80_100", "αβ L 80–100", "low"), ("auc", "AuC", "high"),
           ("auc_rebalanced", "AuC rebal.", "high"), ("colourfulness", "colourfulness", "near"),
           ("warp_error", "warp error", "low"), ("cdc", "CDC", "low"))
#: A truth fill must cover this share of a shot's middle frame to be judged.
FILL_MIN_SHARE = 0.005


def _link_series(source: Path, target: Path) -> None:
    """Hard-link the demo series of ``source`` into ``target`` (not the outputs): the next
    seed trains on exactly the same episodes without drawing them again (the dataset records
    its sources' paths, so each seed builds its own)."""
    if (target / "demo").exists() or not (source / "demo").exists():
        return
    (target / "demo").mkdir(parents=True)
    for path in (source / "demo").iterdir():
        if path.suffix in (".mkv", ".json") and ".colorized" not in path.name \
                and "_review" not in path.name and not path.name.endswith(".vidcolor.json"):
            os.link(path, target / "demo" / path.name)


#: ``--render-only``: the render and evaluate stages of ``pipelines/demo.sh``, as it runs them.
RENDER = [["vidcolor", "render", "demo/episode01_bw.mkv", "-m", "runs/residual", "-o",
           "demo/episode01_bw.colorized.mkv", "--review", "demo/episode01_review.mkv",
           "--truth", "demo/episode01.mkv"],
          ["vidcolor", "evaluate", "demo/episode01_bw.colorized.mkv", "--truth",
           "demo/episode01.mkv", "-o", "report"]]


def _run_seed(seed: int, folder: Path, epochs: int, render_only: bool) -> float:
    env = {**os.environ, "SEED": str(seed), "EPOCHS": str(epochs)}
    commands = [["bash", str(DEMO), str(folder)]]
    if render_only:
        for stale in ("demo/episode01_bw.colorized.mkv", "demo/episode01_review.mkv", "report"):
            path = folder / stale
            if path.is_dir():
                shutil.rmtree(path)
            elif path.exists():
                path.unlink()
        commands = RENDER
    start = time.perf_counter()
    with open(folder / "demo.log", "a") as log:
        for command in commands:
            subprocess.run(command, cwd=folder, env=env, check=True, stdout=log,
                           stderr=subprocess.STDOUT)
    return time.perf_counter() - start


def _shots(manifest: dict) -> list[tuple[int, int, bool]]:
    """The held-out episode's shots ``(first, last, is_credit)`` as the generator made them."""
    from vidcolor.demo.episode import iter_episode_frames

    scenes, credits = [], []
    for frame in iter_episode_frames(seed=manifest["seed"], episode=0,
                                     seconds=manifest["seconds"], width=manifest["width"],
                                     height=manifest["height"], fps=Fraction(manifest["fps"])):
        scenes.append(frame.scene)
        credits.append(frame.is_credit)
    shots, first = [], 0
    for index in range(1, len(scenes) + 1):
        if index == len(scenes) or scenes[index] != scenes[first]:
            shots.append((first, index - 1, credits[first]))
            first = index
    return shots


def _middle_frames(path: Path, wanted: set[int]) -> dict[int, np.ndarray]:
    from vidcolor.video.decode import iter_frames

    return {f.index: f.rgb for f in iter_frames(path) if f.index in wanted}


def _decisions(truth: np.ndarray, result: np.ndarray, palette: np.ndarray) -> list[str]:
    """The truth fills painted as another palette colour of their lightness: ``"k→j"``."""
    from vidcolor.color.frames import rgb_to_lab_frame

    truth_lab, result_lab = rgb_to_lab_frame(truth), rgb_to_lab_frame(result)
    flips = []
    for k, colour in enumerate(palette):
        fill = np.linalg.norm(truth_lab - colour, axis=-1) < 3.0
        if fill.mean() < FILL_MIN_SHARE:
            continue
        painted = result_lab[fill][:, 1:].mean(axis=0)
        candidates = np.flatnonzero(np.abs(palette[:, 0] - colour[0]) <= 6.0)
        nearest = candidates[np.argmin(np.linalg.norm(palette[candidates, 1:] - painted,
                                                      axis=1))]
        if nearest != k:
            flips.append(f"{k}→{nearest}")
    return flips


def _score(folder: Path, shots: list[tuple[int, int, bool]]) -> dict:
    from vidcolor.series import SeriesLook

    report = json.loads((folder / "report" / "report.json").read_text())
    (name,) = [n for n in report["candidates"] if n not in ("grey", "truth")]
    psnr = np.asarray([np.inf if v == "inf" else v for v in report["series"]["psnr"][name]],
                      float)
    grey = np.asarray(report["series"]["psnr"]["grey"], float)
    palette = SeriesLook.load(folder / "runs" / "residual" / "series.json").palette
    middles = {(first + last) // 2 for first, last, _credit in shots}
    truth = _middle_frames(folder / "demo" / "episode01.mkv", middles)
    result = _middle_frames(folder / "demo" / "episode01_bw.colorized.mkv", middles)
    per_shot = []
    for first, last, credit in shots:
        middle = (first + last) // 2
        shot_psnr = psnr[first:last + 1]
        flips = [] if credit else _decisions(truth[middle], result[middle], palette)
        per_shot.append({"first": first, "last": last, "credit": credit,
                         "psnr": float(np.mean(shot_psnr)), "min_psnr": float(shot_psnr.min()),
                         "grey": float(np.mean(grey[first:last + 1])),
                         "decisions": ["credits" if shot_psnr.min() >= 30 else "no credits"]
                         if credit else flips})
    return {"metrics": report["metrics"][name], "grey": report["metrics"]["grey"],
            "truth": report["metrics"]["truth"], "shots": per_shot}


def _fmt(value: float | None) -> str:
    if value is None:
        return "n/a"
    if abs(value) < 0.01:
        return f"{value:.3g}"
    return f"{value:.3f}" if abs(value) < 1 else f"{value:.2f}"


def _print(results: dict[int, dict]) -> None:
    seeds = sorted(results)
    first = results[seeds[0]]
    print(f"\n## {len(seeds)} seeds of the README demo (held-out episode01)\n")
    print("| figure | grey | " + " | ".join(f"seed {s}" for s in seeds)
          + " | median | worst | truth |")
    print("|---|" + "---:|" * (len(seeds) + 4))
    for key, label, better in FIGURES:
        values = [results[s]["metrics"].get(key) for s in seeds]
        numbers = [v for v in values if isinstance(v, (int, float))]
        if not numbers:
            continue
        truth = first["truth"].get(key)
        worst = (min(numbers) if better == "high" else max(numbers) if better == "low"
                 else max(numbers, key=lambda v: abs(v - (truth or 0))))
        print(f"| {label} | {_fmt(first['grey'].get(key))} | "
              + " | ".join(_fmt(v) for v in values)
              + f" | {_fmt(statistics.median(numbers))} | {_fmt(worst)} | "
              + f"{_fmt(truth) if isinstance(truth, (int, float)) else truth} |")
    times = [results[s].get("seconds") for s in seeds]
    if all(t is not None for t in times):
        print("| wall time (s) | | " + " | ".join(f"{t:.0f}" for t in times)
              + f" | {statistics.median(times):.0f} | {max(times):.0f} | |")
    print("\n## per shot: PSNR (grey); decisions (fills painted as another palette colour, "
          "credit colours)\n")
    print("| shot | frames | grey | " + " | ".join(f"seed {s}" for s in seeds)
          + " | worst − grey |")
    print("|---|---|---:|" + "---:|" * (len(seeds) + 1))
    differing = []
    for index, shot in enumerate(first["shots"]):
        cells = []
        for s in seeds:
            this = results[s]["shots"][index]
            note = ",".join(this["decisions"])
            cells.append(f"{this['psnr']:.2f}" + (f" ({note})" if note else ""))
        worst = min(results[s]["shots"][index]["psnr"] for s in seeds)
        kind = "credits" if shot["credit"] else "story"
        print(f"| {index} {kind} | {shot['first']}–{shot['last']} | {shot['grey']:.2f} | "
              + " | ".join(cells) + f" | {worst - shot['grey']:+.2f} |")
        if len({tuple(results[s]["shots"][index]["decisions"]) for s in seeds}) > 1:
            differing.append(index)
    print(f"\nshots whose decisions differ between seeds: {differing or 'none'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--work", type=Path, default=Path("bench-seeds"))
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--render-only", action="store_true",
                        help="keep the trained models; render and evaluate again")
    parser.add_argument("--json", type=Path, default=None, help="write every figure here")
    args = parser.parse_args()

    results: dict[int, dict] = {}
    shots = None
    for seed in args.seeds:
        folder = args.work / f"seed{seed}"
        folder.mkdir(parents=True, exist_ok=True)
        done = [args.work / f"seed{s}" for s in results]
        if done:
            _link_series(done[0], folder)
        if args.render_only and not (folder / "runs" / "residual" / "latest.json").is_file():
            sys.exit(f"{folder}: no trained model to render with (run without --render-only)")
        seconds = _run_seed(seed, folder, args.epochs, args.render_only)
        if shots is None:
            shots = _shots(json.loads((folder / "demo" / "manifest.json").read_text()))
        results[seed] = {**_score(folder, shots), "seconds": seconds}
        shot_psnr = ", ".join(f"{s['psnr']:.1f}" for s in results[seed]["shots"])
        print(f"seed {seed}: {seconds:.0f} s, PSNR {results[seed]['metrics']['psnr']:.2f}; "
              f"shots {shot_psnr}", flush=True)
    _print(results)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
