"""``vidcolor render``: colourise a video, an image or a folder of images."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import click

from vidcolor.color.grey import GREY_MODELS
from vidcolor.inference.ensemble import ENSEMBLE_METHODS
from vidcolor.inference.options import RenderOptions, segmentation_flags, sequence_flags
from vidcolor.inference.refine.registry import refine_methods
from vidcolor.video.writer import CHROMA, CRF_RANGE


def options_from_cli(**kwargs: Any) -> RenderOptions:
    """:meth:`RenderOptions.from_cli`, a refused value made a usage error (exit 2)."""
    from vidcolor.errors import OptionError

    try:
        return RenderOptions.from_cli(**kwargs)
    except OptionError as exc:
        raise click.UsageError(str(exc)) from None


def _segmentation_options() -> list[Callable[[Any], Any]]:
    """An option per parameter of the registered segmentations that has a flag (``--fz-scale``
    ...), generated from its declaration: type, bounds, help and default."""
    options = []
    for flag, segmentation, parameter in segmentation_flags():
        minimum = parameter.minimum  # shown in the help: [x>0], not [x>0.0]
        low = {"min": int(minimum) if float(minimum).is_integer() else minimum,
               "min_open": parameter.min_open}
        kind = click.IntRange(**low) if parameter.type is int else click.FloatRange(**low)
        options.append(click.option(
            flag, type=kind, default=None,
            help=f"{segmentation.label} {parameter.help} [default: {parameter.default:g}]."))
    return options


def render_options(command):  # noqa: ANN001, ANN201 - a click decorator
    """The options that decide how frames are colourised (shared by render and evaluate); the
    command gets them as keyword arguments for :func:`options_from_cli`. Defaults are read
    from the class's fields (making a RenderOptions here would import torch)."""
    options = [
        click.option("--refine", type=click.Choice(refine_methods()), default=RenderOptions.refine,
                     show_default=True,
                     help="Segment the grey frame and paint each region with one colour."),
        click.option("--ensemble", metavar=f"[{'|'.join(ENSEMBLE_METHODS)}]", is_flag=False,
                     flag_value="mean", default=None,
                     help="Combine several models: mean of their ab (alone: mean) or of their "
                          "colour histograms (same gamut only)."),
        click.option("--decode", default=RenderOptions.decode, show_default=True,
                     help="expectation, mode, annealed or annealed:T (e.g. annealed:0.38)."),
        click.option("--size", type=int, default=RenderOptions.size, show_default=True,
                     help="Network input size (the whole frame resized to a square, multiple "
                          "of 8)."),
        click.option("--batch-size", type=int, default=RenderOptions.batch_size, show_default=True,
                     help="Frames per network batch."),
        click.option("--device", default=RenderOptions.device, show_default=True,
                     help="auto, cpu, cuda or cuda:N."),
        click.option("--workers", type=int, default=None,
                     help="Worker processes for the per-frame stages (default: CPU count - 1 "
                          "when refining; 0: in-process)."),
        *_segmentation_options(),
        click.option("--working-scale", type=float, default=1.0, show_default=True,
                     help="Segment at this fraction of the resolution (faster; labels are "
                          "mapped back along the full-resolution lines)."),
        *(click.option(f"--{entry.flag}/--no-{entry.flag}", default=entry.default,
                       show_default=True, help=entry.help) for entry in sequence_flags()),
        click.option("--palette/--no-palette", default=RenderOptions.palette, show_default=True,
                     help="Paint each region in the series' palette colour its prediction "
                          "supports best (learnt by build-dataset; regions only)."),
        click.option("--neutral/--no-neutral", default=RenderOptions.neutral, show_default=True,
                     help="Keep ink, shadows and highlights as neutral as the series keeps "
                          "them (a chroma ceiling per lightness, learnt from the training "
                          "split)."),
        click.option("--debias", type=float, default=RenderOptions.debias, show_default=True,
                     metavar="STRENGTH",
                     help="Undo this much (0 to 1) of the class rebalancing's preference for "
                          "rare saturated colours in the network's predictions: fewer tinted "
                          "greys, a little less colour (README, Measured)."),
        click.option("--credits/--no-credits", default=RenderOptions.credits, show_default=True,
                     help="Paint credit screens detected in the grey input in the series' "
                          "credit colours (learnt from the frames the credit filter dropped)."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def encoding_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """``--chroma`` and ``--crf``: how render encodes its videos (not options of evaluate,
    which writes no video; ``scripts/compare_options.py`` parses them too)."""
    command = click.option(
        "--crf", type=click.IntRange(*CRF_RANGE), default=RenderOptions.crf, show_default=True,
        help="x264 quality of the output video: lower is better and larger, 0 is lossless "
             "(an archive master).")(command)
    return click.option(
        "--chroma", type=click.Choice(CHROMA), default=RenderOptions.chroma, show_default=True,
        help="Output video chroma: 420 plays everywhere; 444 keeps colour at full resolution, "
             "so thin black ink stays black beside coloured fills (needs a player with H.264 "
             "4:4:4: VLC, mpv, ffmpeg).")(command)


def split_ensemble_input(ensemble: str | None, inputs: tuple[Path, ...]
                         ) -> tuple[str | None, tuple[Path, ...]]:
    """``--ensemble`` takes an optional value, so in ``--ensemble bw.mkv`` that word is an
    input, not a method."""
    if ensemble is not None and ensemble not in ENSEMBLE_METHODS:
        if inputs:
            raise click.BadParameter(f"{ensemble!r} is not one of "
                                     f"{', '.join(ENSEMBLE_METHODS)}", param_hint="'--ensemble'")
        return "mean", (Path(ensemble),)
    return ensemble, inputs


@click.command("render")
@click.argument("inputs", metavar="INPUT...", nargs=-1, type=click.Path(path_type=Path))
@click.option("-m", "--model", "models", multiple=True, metavar="RUN_OR_CKPT",
              help="Run directory (latest checkpoint) or checkpoint file; repeatable. "
                   "Default: every trained run under ./runs.")
@click.option("-o", "--output", type=click.Path(path_type=Path), default=None,
              help="Output video/image/folder; with several inputs or a season folder, an "
                   "output folder (one output per episode, and season.json). Default: "
                   "<input stem>.colorized.<ext> beside each input.")
@render_options
@encoding_options
@click.option("--side-by-side", is_flag=True,
              help="Write a review video instead of the output: grey input | result "
                   "(| per-frame) (| ground truth).")
@click.option("--review", type=click.Path(path_type=Path), default=None, metavar="REVIEW",
              help="Also write a review video here, in the same pass: grey input | result "
                   "(| per-frame) (| ground truth); -o gets exactly what a plain render "
                   "writes. One input.")
@click.option("--truth", type=click.Path(path_type=Path), default=None,
              help="Ground truth shown as the last panel of the review (--review, else it "
                   "implies --side-by-side; one input).")
@click.option("--hints", type=click.Path(path_type=Path), default=None, metavar="DIR",
              help="Keyframe hints: colour images named by the frame they colour, counted "
                   "from 0 (000123.png), whole frames or strokes on transparency; each is "
                   "carried through its shot (`vidcolor shots` exports stills to paint). One "
                   "input.")
@click.option("--shard", default=None, metavar="I/N",
              help="Render only the I-th of N shares of the inputs (sorted by path, so the "
                   "same share whatever the argument order): one task of a cluster job array.")
@click.option("--devices", default=None, metavar="LIST",
              help="Render on several devices at once, one worker process each taking the next "
                   "episode: e.g. cuda:0,cuda:1, or 'all' for every visible GPU. Default: "
                   "everything in this process, on --device.")
@click.option("--skip-errors", is_flag=True,
              help="Render the readable frames of a damaged (truncated) video, with a warning, "
                   "instead of refusing it.")
@click.option("--keep-going/--stop-on-error", default=True, show_default=True,
              help="With several inputs: go on after an episode fails (the exit code is 1 and "
                   "the summary names it).")
@click.option("--grey", type=click.Choice(GREY_MODELS), default=None,
              help="How the input's black and white was made from colour (luminance, bt601 "
                   "or bt709 luma): the output keeps the input's grey under it. Overrides "
                   "the run's, with a warning when it differs.  [default: the run's grey "
                   "model, recorded from its dataset]")
def render(inputs: tuple[Path, ...], models: tuple[str, ...], output: Path | None,
           side_by_side: bool, review: Path | None, truth: Path | None, hints: Path | None,
           shard: str | None, devices: str | None, skip_errors: bool, keep_going: bool,
           **render_kwargs: Any) -> None:
    """Colourise INPUTs: videos, images, folders of images, or season folders (videos
    and/or folders of images).

    \b
    Each output keeps its input's resolution, frame count, frame rate, timestamps
    and audio; its L channel is the input's own. An interrupted render continues
    where it stopped; an output already rendered with the same models and options
    is kept. With several episodes the models are loaded once, and a failing one
    is reported while the others go on (exit code 1). Examples:
      vidcolor render bw.mkv                                  # every run in ./runs
      vidcolor render bw.mkv --refine felzenszwalb --ensemble
      vidcolor render season_bw/ -o season_colour/            # a folder of episodes
      vidcolor render season_bw/ -o out/ --devices cuda:0,cuda:1
      vidcolor render season_bw/ -o out/ --shard $SLURM_ARRAY_TASK_ID/8
      vidcolor render bw.mkv -o bw.colorized.mkv --review review.mkv --truth colour.mkv
      vidcolor render bw.mkv --hints painted/                 # colourist's keyframes
    """
    from vidcolor.inference import batch
    from vidcolor.inference.render import Renderer

    ensemble, inputs = split_ensemble_input(render_kwargs.pop("ensemble"), inputs)
    if not inputs:
        raise click.UsageError("Missing argument 'INPUT...'.")
    options = options_from_cli(ensemble=ensemble, **render_kwargs)
    shard_pair = _usage(batch.parse_shard, shard) if shard else None
    device_list = _usage(batch.parse_devices, devices) if devices else []
    if device_list and options.device != "auto":
        raise click.UsageError("give --device or --devices, not both")
    several = batch.is_batch(inputs, shard_pair)  # a missing input fails before loading
    if review is not None and side_by_side:
        raise click.UsageError("--review writes the review beside the output, --side-by-side "
                               "makes the output the review: give one of them")
    for name, value in (("--review", review), ("--truth", truth), ("--hints", hints)):
        if value is not None and (several or len(device_list) > 1):
            raise click.UsageError(f"{name} needs a single input (not several inputs, a "
                                   "season folder, --shard or several --devices)")
    episodes = batch.plan(inputs, output, shard_pair)
    if not several and len(device_list) < 2:
        if device_list:
            options = replace(options, device=device_list[0])
        with Renderer.from_runs(list(models) or None, options) as renderer:
            out = renderer.render(episodes[0].input, episodes[0].output,
                                  side_by_side=side_by_side, truth=truth, review=review,
                                  progress=True, skip_errors=skip_errors, hints=hints)
        click.echo(f"{'up to date' if renderer.last_skipped else 'wrote'}: {out}"
                   + (f" and {review}" if review is not None else ""))
        return
    if not episodes:
        click.echo("nothing to render in this shard")
        return
    results = batch.render_batch(episodes, list(models) or None, options, devices=device_list,
                                 keep_going=keep_going, side_by_side=side_by_side,
                                 skip_errors=skip_errors, progress=len(device_list) < 2)
    click.echo(batch.format_season(results))
    if len(results) < len(episodes):
        click.echo(f"stopped at the first failure (--stop-on-error); "
                   f"{len(episodes) - len(results)} episode(s) not rendered")
    if output is not None:
        click.echo(f"season: {batch.write_season(results, output, shard_pair)}")
    if any(r.status == "failed" for r in results):
        raise SystemExit(1)


def _usage(parse, value):  # noqa: ANN001, ANN202
    from vidcolor.errors import OptionError

    try:
        return parse(value)
    except OptionError as exc:
        raise click.UsageError(str(exc)) from None
