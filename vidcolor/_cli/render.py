"""``vidcolor render``: colourise a video, an image or a folder of images."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("render")
@click.argument("input_path", metavar="INPUT", type=click.Path(path_type=Path), required=False)
@click.option("-m", "--model", "models", multiple=True, metavar="RUN_OR_CKPT",
              help="Run directory (latest checkpoint) or checkpoint file; repeatable. "
                   "Default: every trained run under ./runs.")
@click.option("-o", "--output", type=click.Path(path_type=Path), default=None,
              help="Output video/image/folder. Default: <input stem>.colorized.<ext> beside it.")
@click.option("--refine", type=click.Choice(["none", "regiongrow", "felzenszwalb"]),
              default="none", show_default=True,
              help="Segment the grey frame and paint each region with one colour.")
@click.option("--ensemble", metavar="[mean|histogram]", is_flag=False, flag_value="mean",
              default=None,
              help="Combine several models: mean of their ab (alone: mean) or of their "
                   "colour histograms (same gamut only).")
@click.option("--decode", default="expectation", show_default=True,
              help="expectation, mode, annealed or annealed:T (e.g. annealed:0.38).")
@click.option("--size", type=click.IntRange(min=8), default=224, show_default=True,
              help="Network input size (the whole frame resized to a square, multiple of 8).")
@click.option("--batch-size", type=click.IntRange(min=1), default=8, show_default=True,
              help="Frames per network batch.")
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda or cuda:N.")
@click.option("--side-by-side", is_flag=True,
              help="Write a review video: grey input | result (| ground truth).")
@click.option("--truth", type=click.Path(path_type=Path), default=None,
              help="Ground truth shown as a third panel (implies --side-by-side).")
@click.option("--workers", type=click.IntRange(min=0), default=None,
              help="Worker processes for refinement and colour conversion (default: CPU count "
                   "- 1 when refining; 0: in-process).")
@click.option("--fz-scale", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Felzenszwalb scale: higher means larger regions [default: 100].")
@click.option("--fz-sigma", type=click.FloatRange(min=0), default=None,
              help="Felzenszwalb Gaussian pre-smoothing, px [default: 0.5].")
@click.option("--fz-min-size", type=click.IntRange(min=1), default=None,
              help="Felzenszwalb smallest region, px [default: 50].")
@click.option("--working-scale", type=click.FloatRange(0, 1, min_open=True), default=1.0,
              show_default=True,
              help="Segment at this fraction of the resolution (faster; labels are mapped back "
                   "along the full-resolution lines).")
def render(input_path: Path, models: tuple[str, ...], output: Path | None, refine: str,
           ensemble: str | None, decode: str, size: int, batch_size: int, device: str,
           side_by_side: bool, truth: Path | None, workers: int | None, fz_scale: float | None,
           fz_sigma: float | None, fz_min_size: int | None, working_scale: float) -> None:
    """Colourise INPUT (a video, an image or a folder of images).

    \b
    The output keeps the input's resolution, frame count, frame rate, timestamps
    and audio; its L channel is the input's own. Examples:
      vidcolor render bw.mkv                                  # every run in ./runs
      vidcolor render bw.mkv --refine felzenszwalb --ensemble
      vidcolor render bw.mkv -m runs/plain -o out.mp4 --side-by-side
    """
    from vidcolor.ensemble import ENSEMBLE_METHODS
    from vidcolor.render import render as render_video

    if ensemble is not None and ensemble not in ENSEMBLE_METHODS:
        # An option with an optional value swallows the next word: in
        # `render --ensemble bw.mkv` that word is the input, not a method.
        if input_path is not None:
            raise click.BadParameter(f"{ensemble!r} is not one of "
                                     f"{', '.join(ENSEMBLE_METHODS)}", param_hint="'--ensemble'")
        input_path, ensemble = Path(ensemble), "mean"
    if input_path is None:
        raise click.UsageError("Missing argument 'INPUT'.")
    options: dict[str, float] = {}
    if refine != "none" and working_scale != 1.0:
        options["working_scale"] = working_scale
    for name, value in (("scale", fz_scale), ("sigma", fz_sigma), ("min_size", fz_min_size)):
        if value is not None:
            if refine != "felzenszwalb":
                raise click.UsageError(f"--fz-{name.replace('_', '-')} needs --refine "
                                       "felzenszwalb")
            options[name] = value

    out = render_video(input_path, list(models) or None, output, refine=refine,
                       ensemble=ensemble, decode=decode, size=size, batch_size=batch_size,
                       device=device, side_by_side=side_by_side, truth=truth, workers=workers,
                       progress=True, refine_options=options)
    click.echo(f"wrote {out}")
