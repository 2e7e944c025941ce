"""``vidcolor evaluate``: score runs on a dataset split, rendered files against their truth, or a
whole season render."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from vidcolor._cli.render import options_from_cli, render_options, split_ensemble_input


@click.command("evaluate")
@click.argument("items", nargs=-1, required=False, type=click.Path(path_type=Path),
                metavar="RUN... | RESULT...")
@click.option("--truth", type=click.Path(path_type=Path), default=None,
              help="Colour original: score the RESULT videos, images or folders against it "
                   "(instead of rendering a dataset split with RUNs); with --season, the "
                   "folder of colour originals.")
@click.option("--season", "season_dir", type=click.Path(path_type=Path, file_okay=False),
              default=None,
              help="A season render's output folder (season.json): one table of every "
                   "episode's frames, render time and fps, each scored against its colour "
                   "original in the --truth folder (ep02_bw.mkv -> ep02.*).")
@click.option("--align", is_flag=True,
              help="With --truth: compare the frames the inputs have in common when their "
                   "frame counts differ (a warning says so), instead of failing.")
@click.option("--dataset", "dataset_dir", default="dataset", show_default=True,
              type=click.Path(file_okay=False), help="Dataset folder (RUN mode).")
@click.option("--split", type=click.Choice(["test", "train"]), default="test", show_default=True)
@click.option("--max-images", type=click.IntRange(1), default=None,
              help="Score at most this many frames of the split (evenly spaced).")
@render_options
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON on stdout.")
@click.option("-o", "--output", "report_dir", type=click.Path(path_type=Path), default=None,
              help="Write a report folder: report.json, error curves, a comparison sheet, a "
                   "per-frame plot and index.html.")
def evaluate(items: tuple[Path, ...], truth: Path | None, season_dir: Path | None, align: bool,
             dataset_dir: str, split: str, max_images: int | None, as_json: bool,
             report_dir: Path | None, **render_kwargs: Any) -> None:
    """Score colourisations against the colour truth (SPEC §8, plus temporal measures).

    \b
    RUN mode renders the split's grey frames with the RUNs exactly as `vidcolor
    render` would with the same options, and scores the result:
      vidcolor evaluate runs/residual runs/plain --refine felzenszwalb --ensemble
    RESULT mode scores rendered files against their colour original:
      vidcolor evaluate ep01_bw.colorized.mkv --truth ep01.mkv -o report/
    Every figure is printed beside the all-grey baseline and the truth's own
    value (the floor of the temporal measures).
    SEASON mode reports on a whole render (`vidcolor render season_bw/ -o out/`):
      vidcolor evaluate --season out/ --truth season_colour/ -o report/
    The colour original of ep02_bw.mkv is ep02.* in the truth folder (a trailing
    _bw, -bw, _grey, -grey, _gray or -gray is dropped; else the same name);
    episodes without one show only frames, render seconds and fps. The exit
    code is 1 when an episode that has a colour original cannot be scored.
    """
    from vidcolor.evaluation.results import evaluate_results
    from vidcolor.evaluation.runs import evaluate_runs
    from vidcolor.report.table import format_table

    if season_dir is not None:
        _season(items, season_dir, truth, align, as_json, report_dir)
        return
    ensemble, items = split_ensemble_input(render_kwargs.pop("ensemble"), items)
    if not items:
        raise click.UsageError("give RUNs to render a dataset split, or RESULTs with --truth")
    if truth is not None:
        summary = evaluate_results(list(items), truth, align=align, report_dir=report_dir,
                                   progress=True)
    else:
        if align:
            raise click.UsageError("--align needs --truth")
        options = options_from_cli(ensemble=ensemble, **render_kwargs)
        summary = evaluate_runs(list(items), options, dataset_dir=dataset_dir, split=split,
                                max_images=max_images, report_dir=report_dir, progress=True)
    if as_json:
        click.echo(json.dumps(summary, allow_nan=False))
    else:
        click.echo(format_table(summary))
    if report_dir is not None and not as_json:
        click.echo(f"report: {report_dir / 'index.html'}")


def _season(items: tuple[Path, ...], season_dir: Path, truth: Path | None, align: bool,
            as_json: bool, report_dir: Path | None) -> None:
    from vidcolor.evaluation.season import evaluate_season
    from vidcolor.report.season import format_season_report

    if items:
        raise click.UsageError("--season reads the episodes from the folder's season.json; "
                               "give no RUN or RESULT with it")
    report = evaluate_season(season_dir, truth, align=align, report_dir=report_dir,
                             progress=True)
    if as_json:
        click.echo(json.dumps(report, allow_nan=False))
    else:
        click.echo(format_season_report(report))
        if report_dir is not None:
            click.echo(f"report: {report_dir / 'index.html'}")
    if any(episode["error"] for episode in report["episodes"]):
        raise SystemExit(1)
