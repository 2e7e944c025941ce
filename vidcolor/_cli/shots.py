"""``vidcolor shots``: list a grey episode's shots and export one still of each to paint."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("shots")
@click.argument("input_path", metavar="INPUT", type=click.Path(path_type=Path))
@click.option("-o", "--output", type=click.Path(path_type=Path), required=True,
              help="Output folder (created if needed): shots.csv and the stills, or with "
                   "--truth the hints.")
@click.option("-m", "--model", "run", type=click.Path(path_type=Path), default=None,
              metavar="RUN",
              help="A trained run: also export each still as `vidcolor render -m RUN` colours "
                   "it (auto/), and tell credit screens by the series' look (with --truth: "
                   "only the latter).")
@click.option("--truth", type=click.Path(path_type=Path), default=None,
              help="Colour original of INPUT, frame for frame: write its still of every story "
                   "shot as a whole-frame hint instead (a simulated colourist, to measure "
                   "--hints).")
@click.option("--strokes", is_flag=True,
              help="With --truth: write a few small discs of the original's colours on "
                   "transparency instead of whole frames.")
@click.option("--seed", type=int, default=0, show_default=True,
              help="With --strokes: where the discs go.")
def shots(input_path: Path, output: Path, run: Path | None, truth: Path | None,
          strokes: bool, seed: int) -> None:
    """List the shots of a grey video (or folder of images) and export a still of each.

    \b
    Writes OUTPUT/shots.csv (shot, first, last, frames, middle, kind: story,
    dark or credits) and, for every story shot, its middle frame to paint:
    OUTPUT/grey/<middle>.png (and OUTPUT/auto/<middle>.png with -m). Paint the
    stills you want to fix, save them under the same names in a folder, and
    render with it; each painted frame is carried through its shot:
      vidcolor shots bw.mkv -m runs/residual -o stills/
      vidcolor render bw.mkv -m runs/residual --hints painted/
    \b
    Simulated colourists, to measure hints against the colour original:
      vidcolor shots bw.mkv --truth colour.mkv -o hints/              # whole frames
      vidcolor shots bw.mkv --truth colour.mkv --strokes -o strokes/  # a few discs
    (the shot list of a hint folder is .shots.csv: a hint folder holds only hints).
    """
    from vidcolor.shotlist import export_hints, export_stills

    if strokes and truth is None:
        raise click.UsageError("--strokes needs --truth")
    if truth is None:
        found = export_stills(input_path, output, run, progress=True)
        what = "stills"
    else:
        found = export_hints(input_path, truth, output, strokes=strokes, run=run, seed=seed,
                             progress=True)
        what = "stroke hints" if strokes else "hints"
    counts = {kind: sum(shot.kind == kind for shot in found)
              for kind in ("story", "dark", "credits")}
    click.echo(f"{len(found)} shots ({counts['story']} story, {counts['dark']} dark, "
               f"{counts['credits']} credits): {counts['story']} {what} in {output}")
