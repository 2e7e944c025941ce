"""Render one grey clip with several sets of options and score every result against its truth.

The table behind the defaults: each variant is rendered with :func:`vidcolor.inference.render`
(exactly as ``vidcolor render`` would, the models loaded once per variant) and all outputs are
scored in one pass by :func:`vidcolor.evaluation.results.evaluate_results` (the same figures
as ``vidcolor evaluate OUTPUT... --truth TRUTH``). Prints a Markdown table: PSNR, αβ error (all
and per lightness band), colourfulness, warp error, CDC and the render speed.

    python scripts/compare_options.py demo-run/demo/episode01_bw.mkv \\
        --truth demo-run/demo/episode01.mkv -m demo-run/runs/residual \\
        --variant "per-frame=" --variant "felzenszwalb=--refine felzenszwalb" \\
        --variant "temporal=--refine felzenszwalb --temporal"

Outputs are kept in ``--work`` (default: a temporary folder) so they can be looked at.
"""

from __future__ import annotations

import argparse
import shlex
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import click


def _options(text: str):  # noqa: ANN202 - RenderOptions
    """Parse ``vidcolor render`` options into a RenderOptions (the CLI's own parser)."""
    from vidcolor._cli.render import encoding_options, options_from_cli, render_options

    captured = {}

    @click.command()
    @render_options
    @encoding_options
    def parse(**kwargs: object) -> None:
        captured.update(kwargs)

    parse.main(shlex.split(text), standalone_mode=False)
    encoding = {name: captured.pop(name) for name in ("chroma", "crf")}
    return replace(options_from_cli(**captured), **encoding)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("clip", type=Path, help="the grey input")
    parser.add_argument("--truth", type=Path, required=True, help="its colour original")
    parser.add_argument("-m", "--model", action="append", required=True, dest="models")
    parser.add_argument("--variant", action="append", required=True,
                        help="NAME=RENDER OPTIONS, e.g. 'temporal=--refine felzenszwalb "
                             "--temporal' (repeatable)")
    parser.add_argument("--work", type=Path, default=None, help="keep the outputs here")
    parser.add_argument("--align", action="store_true", help="compare the common frames")
    args = parser.parse_args()

    from vidcolor.evaluation.results import evaluate_results
    from vidcolor.inference.render import render
    from vidcolor.metrics import LIGHTNESS_BANDS, band_key, metric_named

    work = args.work or Path(tempfile.mkdtemp(prefix="vidcolor-compare-"))
    work.mkdir(parents=True, exist_ok=True)
    outputs, speeds = [], {}
    for variant in args.variant:
        name, _, text = variant.partition("=")
        options = _options(text)
        out = work / f"{name}.mkv"
        frames_before = time.perf_counter()
        render(args.clip, args.models, out, options=options)
        speeds[out.name] = time.perf_counter() - frames_before
        outputs.append(out)
        print(f"rendered {name}: {text or '(defaults)'} in {speeds[out.name]:.1f} s", flush=True)
    summary = evaluate_results(outputs, args.truth, align=args.align)
    frames = summary["frames"]
    metrics = summary["metrics"]
    bands = [band_key(low, high) for low, high in LIGHTNESS_BANDS]
    header = ["variant", metric_named("psnr").short, metric_named("ab_rmse").short,
              *[b[4:].replace("_", "–") for b in bands],
              *(metric_named(key).short for key in ("colourfulness", "warp_error", "cdc")),
              "fps"]
    print("\n| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))

    def cell(value: object, digits: int = 3) -> str:
        return value if isinstance(value, str) else "n/a" if value is None else \
            f"{value:.{digits}g}" if abs(value) < 1e-2 else f"{value:.{digits}f}"

    for name in summary["candidates"]:
        row = metrics[name]
        fps = f"{frames / speeds[name]:.1f}" if name in speeds else ""
        print("| " + " | ".join([name.removesuffix(".mkv"), cell(row["psnr"], 2),
                                 cell(row["ab_rmse"]), *[cell(row[b]) for b in bands],
                                 cell(row["colourfulness"], 1), cell(row["warp_error"]),
                                 cell(row["cdc"]), fps]) + " |")
    print(f"\n{frames} frames; outputs in {work}")


if __name__ == "__main__":
    main()
