"""``vidcolor build-dataset``: episodes -> deduplicated, credit-filtered, split frame dataset."""

from __future__ import annotations

import logging
import os

import click

from vidcolor.color.grey import GREY_MODELS

log = logging.getLogger("vidcolor")


@click.command("build-dataset")
@click.argument("episodes", nargs=-1, required=True, type=click.Path())
@click.option("-o", "--output", default="dataset", show_default=True,
              type=click.Path(), help="Dataset folder (created or extended).")
@click.option("--test-episodes", default=None, metavar="NAMES",
              help="Comma-separated episode names (file stems) or 0-based indices kept for "
                   "testing.  [default: the first episode]")
@click.option("--size", default=256, show_default=True, type=click.IntRange(8, 4096),
              help="Stored frame side in pixels (frames are squashed to size x size).")
@click.option("--dedup-threshold", default=20.0, show_default=True, type=click.FloatRange(0),
              help="Keep a frame when its MSE (0-255) to the last kept frame exceeds this.")
@click.option("--no-credit-filter", is_flag=True, help="Keep credit screens.")
@click.option("--skip-errors", is_flag=True,
              help="Skip unreadable episodes and keep the frames before damage in truncated "
                   "ones, with a warning, instead of stopping.")
@click.option("--wait", default=0.0, show_default=True, type=click.FloatRange(0),
              metavar="SECONDS",
              help="If another build is writing the same folder, wait up to this long for it "
                   "to finish (0: stop at once with an error).")
@click.option("--grey", type=click.Choice(GREY_MODELS), default=None,
              help="How the series' black and white was made from its colour: luminance "
                   "(vidcolor's own twins), bt601 or bt709 luma (ffmpeg -vf format=gray, "
                   "OpenCV, broadcast). Recorded with the dataset; training and render use "
                   "it.  [default: the dataset's own; luminance for a new one]")
@click.option("--grey-pair", nargs=2, type=click.Path(dir_okay=False), default=None,
              metavar="COLOUR BW",
              help="Fit the grey model from a pair: a colour video and its own black-and-white "
                   "copy (frames matched in time, a small offset found); the fit's residual "
                   "is reported, and a pair that is not the same footage refused.")
def build_dataset(episodes: tuple[str, ...], output: str, test_episodes: str | None, size: int,
                  dedup_threshold: float, no_credit_filter: bool, skip_errors: bool,
                  wait: float, grey: str | None, grey_pair: tuple[str, str] | None) -> None:
    """Extract training frames from colour EPISODES (one video file each) into a dataset.

    Drops near-duplicate frames and credit screens, stores lossless PNG frames with a manifest,
    and splits train/test by whole episodes. Re-running with more episodes extends the dataset;
    an interrupted run resumes where it stopped; a re-run checks the dataset and extracts again
    the episodes whose frames or manifest rows are missing. One build writes a folder at a time.
    """
    # EPISODES are checked by the library (a folder, a pipe, a name that cannot be recorded),
    # which says what is wrong in one line; so is an --output under a file
    from vidcolor.dataset.build import build_dataset as build
    from vidcolor.dataset.records import DatasetParams
    from vidcolor.errors import OptionError

    if os.path.lexists(output) and not os.path.isdir(output):
        raise OptionError(f"{output}: exists and is not a folder; give another --output")
    tests = [t.strip() for t in test_episodes.split(",") if t.strip()] if test_episodes else None
    if grey is not None and grey_pair:
        raise click.UsageError("give --grey or --grey-pair, not both")
    model = grey
    if grey_pair:
        from vidcolor.greyfit import fit_grey_pair

        fit = fit_grey_pair(*grey_pair)
        log.info("grey model: %s; residual %.2f grey levels RMS over %d pixels of %d frames "
                 "(offset %d frames, framing %s, correlation %.3f)", fit.model.describe(),
                 fit.residual, fit.pixels, fit.frames, fit.offset, fit.framing.describe(),
                 fit.correlation)
        model = fit.model
    report = build(list(episodes), output,
                   params=DatasetParams(size=size, dedup_threshold=dedup_threshold,
                                        credit_filter=not no_credit_filter),
                   test_episodes=tests, skip_errors=skip_errors, progress_bar=True, wait=wait,
                   grey=model)
    for ep in report.episodes:
        if ep.status in ("added", "repaired", "re-extracted"):
            log.info("%s: %s%d frames decoded, %d stored, %d duplicates, %d credit frames "
                     "dropped", ep.episode, "" if ep.status == "added" else f"{ep.status}: ",
                     ep.decoded, ep.stored, ep.duplicates, ep.credits)
        else:
            log.info("%s: %s", ep.episode, ep.status)
    fps = report.decoded / report.seconds if report.seconds else 0.0
    log.info("dataset %s ready (%.1f s, %.0f frames/s)", report.output, report.seconds, fps)
