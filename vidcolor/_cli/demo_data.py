"""``vidcolor demo-data``: write a small synthetic cartoon series to try vidcolor on."""

from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path

import click

from vidcolor.color.grey import GREY_MODELS
from vidcolor.film import WEAR_KINDS


def _parse_fps(_ctx: click.Context, _param: click.Parameter, value: str) -> Fraction:
    from vidcolor.errors import OptionError  # a usage error in one line

    try:
        fps = Fraction(value)
    except (ValueError, ZeroDivisionError):
        raise OptionError(f"--fps: {value!r} is not a number or fraction such as "
                          "24000/1001") from None
    if fps <= 0:
        raise OptionError(f"--fps: {value!r} is not positive")
    return fps


def _check_grey(_ctx: click.Context, _param: click.Parameter, value: str) -> str:
    from vidcolor.errors import OptionError  # a usage error in one line

    if value not in GREY_MODELS:
        raise OptionError(f"--grey: {value!r} is not a grey model; choose one of "
                          f"{', '.join(GREY_MODELS)}")
    return value


@click.command("demo-data")
@click.argument("outdir", type=click.Path(path_type=Path))
@click.option("--seed", type=int, default=0, show_default=True,
              help="Random seed; the same seed always gives the same series.")
@click.option("--episodes", type=click.IntRange(min=1), default=4, show_default=True,
              help="Number of episodes.")
@click.option("--seconds", type=click.FloatRange(min=1.0), default=20.0, show_default=True,
              help="Length of each episode, credits included.")
@click.option("--width", type=click.IntRange(min=32), default=256, show_default=True,
              help="Frame width in pixels.")
@click.option("--height", type=click.IntRange(min=24), default=192, show_default=True,
              help="Frame height in pixels.")
@click.option("--fps", default="24", show_default=True, callback=_parse_fps,
              help="Frame rate, e.g. 24, 25 or 24000/1001.")
@click.option("--grey", default=GREY_MODELS[0], show_default=True, callback=_check_grey,
              metavar=f"[{'|'.join(GREY_MODELS)}]",
              help="How the black-and-white twins are made: luminance keeps each pixel's "
                   "lightness (what render assumes); bt601 and bt709 give the luma an "
                   "archive's copy has (ffmpeg -vf format=gray is bt601).")
@click.option("--film", is_flag=True,
              help="Wear the black-and-white twins like a film print: grain new in every "
                   "frame, exposure flicker, gate weave, dust and scratches (seeded by --seed; "
                   "the colour episodes stay clean).")
@click.option("--film-without", "film_without", multiple=True, type=click.Choice(WEAR_KINDS),
              help="With --film, leave out this kind of wear (repeatable).")
def demo_data(outdir: Path, seed: int, episodes: int, seconds: float, width: int, height: int,
              fps: Fraction, grey: str, film: bool, film_without: tuple[str, ...]) -> None:
    """Generate a synthetic cartoon series in OUTDIR.

    \b
    Writes, for each episode, a colour video with audio (episodeNN.mkv) and its
    black-and-white twin (episodeNN_bw.mkv), plus manifest.json. A recurring cast
    of flat-coloured characters moves through a few locations, with scene cuts,
    drawings held for 2-3 frames, and blue opening/closing credits. Two of the
    characters (red and green) have the same grey level (one level apart with
    --grey bt601, 23 with bt709): only their shape tells their colour. --film
    makes the twins look like a worn film print. Example:
      vidcolor demo-data demo/ && vidcolor build-dataset demo/episode0[1-3].mkv
    """
    from vidcolor.demo.generate import generate_series
    from vidcolor.errors import OptionError
    from vidcolor.film import FilmWear

    if os.path.lexists(outdir) and not os.path.isdir(outdir):
        raise OptionError(f"{outdir}: exists and is not a folder; give another OUTDIR")
    if seconds * fps < 10:
        raise OptionError(f"--seconds: {seconds} s at {fps} fps is under 10 frames")
    if film_without and not film:
        raise OptionError("--film-without: only applies with --film")
    wear = FilmWear().without(*film_without) if film else None
    info = generate_series(outdir, seed=seed, episodes=episodes, seconds=seconds, width=width,
                           height=height, fps=fps, grey=grey, film=wear, progress=True)
    count = len(info.episodes)
    click.echo(f"wrote {count} episode{'s' if count > 1 else ''} "
               f"({info.episodes[0].frame_count} frames each, {width}x{height} at {fps} fps) "
               f"to {info.outdir}/")
    for episode in info.episodes:
        click.echo(f"  {episode.colour_path}  (black-and-white{', film print' if film else ''}: "
                   f"{episode.bw_path.name})")
    click.echo(f"  {info.manifest_path}")
