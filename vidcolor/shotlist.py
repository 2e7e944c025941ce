"""The colourist's loop: list a grey episode's shots and export one still of each to paint.

A colourist paints one frame of a shot and ``vidcolor render --hints`` carries it through the
shot (:mod:`vidcolor.inference.hints`). This module says which frames to paint:

* :func:`list_shots`: the shots of a grey input, found by the render's own shot detector
  (:func:`vidcolor.inference.shots.shot_frames`), so they are exactly the shots a hint is
  carried through. Each shot's *middle* frame is its still; the shot's *kind* is that of its
  still, checked as the render checks a hint: ``dark`` (mean thumbnail L below
  :data:`~vidcolor.inference.shots.DARK_LIGHTNESS`: a fade or a black gap), ``credits`` (a
  credit screen of the series' look, which render paints itself) or ``story``.
* :func:`export_stills`: ``shots.csv`` and, for every story shot, its grey still
  (``grey/<middle:06d>.png``, full resolution, RGB so that a paint program opens it in colour
  mode) and, given a trained run, the still as the render colours it (``auto/``).
* :func:`export_hints`: a simulated colourist for measurements: the colour original's still of
  every story shot as a whole-frame hint, or a few small discs of its colours on transparency
  (:func:`stroke_hint`), named so that the folder is a ``--hints`` folder as it is.

Every file is written atomically; the shot list last, so a shot list is never newer than its
stills.
"""

from __future__ import annotations

import contextlib
import csv
import io
import logging
import os
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np

from vidcolor.errors import InputError, OutputError

if TYPE_CHECKING:
    from vidcolor.inference.options import RenderOptions
    from vidcolor.inference.sources import Source, SourceFrame
    from vidcolor.series import SeriesLook

log = logging.getLogger(__name__)

#: The shot list of a stills folder.
SHOT_LIST = "shots.csv"
#: The shot list of a hint folder: hidden, because a hint folder holds nothing but hints
#: (:func:`vidcolor.inference.hints.find_hints` refuses any other visible file).
HINT_SHOT_LIST = ".shots.csv"
#: The shot list's columns.
COLUMNS = ("shot", "first", "last", "frames", "middle", "kind")
#: Shot kinds: a still to paint, a fade or black gap, a credit screen (render paints those).
KINDS = ("story", "dark", "credits")

#: A stroke disc's radius (px) in a frame :data:`STROKE_WIDTH` px wide; scaled with the frame.
STROKE_RADIUS = 3.0
STROKE_WIDTH = 256
#: Regions smaller than this share of the frame get no stroke.
STROKE_MIN_SHARE = 0.002
#: A region gets one disc, one more for every this share of the frame, at most
#: :data:`STROKE_MAX_DISCS`.
STROKE_SHARE_STEP = 0.02
STROKE_MAX_DISCS = 3
#: A disc is put only where the colour original is flat under it: each RGB channel within
#: this many levels (video coding noise passes, an edge between two colours does not).
STROKE_FLAT_LEVELS = 24
#: Discs of one region lie at least this many radii apart.
STROKE_SPACING = 4.0
_STROKE_TRIES = 64


@dataclass(frozen=True)
class Shot:
    """One shot: its number (from 1), its first and last frame (inclusive, counted from 0) and
    its kind (:data:`KINDS`, that of its middle frame).

    >>> shot = Shot(number=2, first=10, last=13, kind="story")
    >>> shot.frames, shot.middle
    (4, 11)
    """

    number: int
    first: int
    last: int
    kind: str

    @property
    def frames(self) -> int:
        """The number of frames."""
        return self.last - self.first + 1

    @property
    def middle(self) -> int:
        """The frame of the shot's still (the earlier of two middle frames)."""
        return self.first + (self.last - self.first) // 2


def still_name(frame: int) -> str:
    """The file name of frame ``frame``'s still or hint (what ``--hints`` reads back).

    >>> still_name(123)
    '000123.png'
    """
    return f"{frame:06d}.png"


def run_look(run: str | os.PathLike[str]) -> SeriesLook | None:
    """The series look a render with ``run`` uses (its folder's ``series.json``), or None.

    Raises:
        DatasetError: a damaged ``series.json``.
    """
    from vidcolor.series import SERIES_FILE, SeriesLook

    run = Path(run)
    path = (run if run.is_dir() else run.parent) / SERIES_FILE
    return SeriesLook.load(path) if path.is_file() else None


def list_shots(source: Source | str | os.PathLike[str], look: SeriesLook | None = None,
               progress: bool = False) -> list[Shot]:
    """The shots of a grey video, image or folder of images (one pass over its frames).

    Args:
        source: the input, or an opened :class:`~vidcolor.inference.sources.Source`.
        look: the series look, for credit screens (None: no shot is ``credits``).
        progress: show a progress bar.

    Returns:
        The shots in order; they partition the frames.

    Raises:
        InputError: missing, unreadable or damaged input.
    """
    from vidcolor import progress as progress_mod
    from vidcolor.inference.hints import frame_kind
    from vidcolor.inference.shots import shot_frames
    from vidcolor.inference.sources import open_source

    if isinstance(source, (str, os.PathLike)):
        source = open_source(source)
    starts: list[int] = []
    kinds: list[str] = []  # every frame's, as its shot's still would be
    with progress_mod.bar(total=source.count or None, desc="shots", unit="frame",
                          enabled=progress) as bar:
        for work in shot_frames(source):
            assert work.thumb is not None
            if work.shot_start:
                starts.append(work.index)
            kinds.append(frame_kind(work.thumb, look))
            bar.update(1)
    if not kinds:
        raise InputError(f"{source.path}: no frames")
    ends = [*starts[1:], len(kinds)]
    shots = []
    for number, (first, end) in enumerate(zip(starts, ends, strict=True), start=1):
        middle = first + (end - 1 - first) // 2
        shots.append(Shot(number, first, end - 1, kinds[middle]))
    return shots


def shot_table(shots: Sequence[Shot]) -> str:
    """The shot list as CSV (:data:`COLUMNS`).

    >>> print(shot_table([Shot(1, 0, 9, "story"), Shot(2, 10, 10, "dark")]), end="")
    shot,first,last,frames,middle,kind
    1,0,9,10,4,story
    2,10,10,1,10,dark
    """
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(COLUMNS)
    for shot in shots:
        writer.writerow((shot.number, shot.first, shot.last, shot.frames, shot.middle,
                         shot.kind))
    return text.getvalue()


def read_shot_table(path: str | os.PathLike[str]) -> list[Shot]:
    """A shot list written by :func:`shot_table` read back.

    Raises:
        InputError: missing, unreadable, or not a shot list.
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read the shot list ({exc})") from exc
    rows = list(csv.DictReader(io.StringIO(text)))
    try:
        return [Shot(int(row["shot"]), int(row["first"]), int(row["last"]), row["kind"])
                for row in rows]
    except (KeyError, TypeError, ValueError) as exc:
        raise InputError(f"{path}: not a shot list (columns {', '.join(COLUMNS)})") from exc


def export_stills(input_path: str | os.PathLike[str], output: str | os.PathLike[str],
                  run: str | os.PathLike[str] | None = None, *,
                  options: RenderOptions | None = None, progress: bool = False) -> list[Shot]:
    """List the shots of a grey input and export a still of every story shot to paint.

    Writes into ``output`` (created if needed): ``shots.csv``, ``grey/<middle:06d>.png`` for
    every story shot and, with ``run``, ``auto/<middle:06d>.png``: that frame as ``vidcolor
    render -m RUN`` colours it (the whole input is rendered once, into a temporary file in
    ``output``, and the stills are taken from it).

    Args:
        input_path: the grey video, image or folder of images.
        output: the stills folder.
        run: a trained run folder (or checkpoint): automatic colours and the series look
            (credit screens) from it.
        options: the render's options for the automatic colours (default: the defaults).
        progress: show progress bars.

    Returns:
        The shots.

    Raises:
        InputError: a bad input; OutputError: ``output`` is a file or cannot be written;
        CheckpointError, DeviceError: from loading ``run``.
    """
    from vidcolor.color.frames import grey_rgb, lightness
    from vidcolor.inference.options import RenderOptions
    from vidcolor.inference.outputs import default_output
    from vidcolor.inference.render import Renderer
    from vidcolor.inference.sources import open_source

    source = open_source(input_path)
    output = _check_output(output, [source.path])
    renderer = None if run is None else Renderer.from_runs([run], options or RenderOptions())
    look = None if run is None else run_look(run)
    shots = list_shots(source, look, progress)
    story = sorted(shot.middle for shot in shots if shot.kind == "story")
    _make_folder(output)
    with contextlib.ExitStack() as stack:
        streams = [source]
        if renderer is not None:  # rendered beside the stills: no other disk need hold it
            scratch = stack.enter_context(tempfile.TemporaryDirectory(
                prefix=".vidcolor-shots-", dir=output))
            with renderer:
                rendered = renderer.render(source.path,
                                           Path(scratch) / default_output(source.path).name,
                                           progress=progress)
            streams.append(open_source(rendered))
        folders = [output / "grey", *([output / "auto"] if renderer is not None else [])]
        for folder in folders:
            _make_folder(folder)
        for index, frames in _pick(streams, story, "stills", progress):
            stills = [grey_rgb(lightness(frames[0].rgb)), *(f.rgb for f in frames[1:])]
            for folder, rgb in zip(folders, stills, strict=True):
                _write_png(folder / still_name(index), rgb)
    for folder in folders:
        _warn_stale(folder, story, "still")
    _write_table(output / SHOT_LIST, shots)
    return shots


def export_hints(input_path: str | os.PathLike[str], truth: str | os.PathLike[str],
                 output: str | os.PathLike[str], *, strokes: bool = False,
                 run: str | os.PathLike[str] | None = None, seed: int = 0,
                 progress: bool = False) -> list[Shot]:
    """A simulated colourist: paint the still of every story shot from the colour original.

    Writes into ``output`` (created if needed), a ``--hints`` folder as it is: for every
    story shot ``<middle:06d>.png``, the colour original's frame (RGB, a whole-frame hint) or
    with ``strokes`` a few small discs of its colours on transparency (:func:`stroke_hint`),
    and the shot list as ``.shots.csv`` (hidden: a hint folder holds only hints). Dark and
    credit shots get no hint: the render paints those itself and refuses a hint there.

    Args:
        input_path: the grey video, image or folder of images.
        truth: its colour original, frame for frame.
        output: the hint folder.
        strokes: write strokes instead of whole frames.
        run: a trained run folder whose series look tells credit screens (optional).
        seed: where the strokes go (the same seed puts them in the same places).
        progress: show progress bars.

    Returns:
        The shots.

    Raises:
        InputError: a bad input, or a truth with another frame count or frame rate.
        OutputError: ``output`` is a file or cannot be written.
    """
    from vidcolor.color.frames import lightness
    from vidcolor.inference.outputs import check_same_rate
    from vidcolor.inference.sources import open_source

    source = open_source(input_path)
    truth_source = open_source(truth)
    check_same_rate(source, truth_source)
    output = _check_output(output, [source.path, truth_source.path])
    look = None if run is None else run_look(run)
    shots = list_shots(source, look, progress)
    count, truth_count = shots[-1].last + 1, _frame_count(truth_source)
    if truth_count != count:
        raise InputError(f"{truth_source.path}: {truth_count} frames, but {source.path} has "
                         f"{count}: the colour original must match the grey input frame for "
                         "frame")
    story = sorted(shot.middle for shot in shots if shot.kind == "story")
    _make_folder(output)
    streams = [truth_source, *([source] if strokes else [])]
    for index, frames in _pick(streams, story, "hints", progress):
        if strokes:
            rgba = stroke_hint(lightness(frames[1].rgb), frames[0].rgb, seed=(seed, index))
            _write_png(output / still_name(index), rgba)
        else:
            _write_png(output / still_name(index), frames[0].rgb)
    _warn_stale(output, story, "hint")
    _write_table(output / HINT_SHOT_LIST, shots)
    return shots


def stroke_hint(light: np.ndarray, truth: np.ndarray, seed: int | Sequence[int] = 0
                ) -> np.ndarray:
    """Strokes a colourist might paint on a grey frame: a few small discs of the colour
    original's colours inside its flat regions, on transparency.

    The grey frame is segmented as the render segments it (region growing). Every region
    larger than :data:`STROKE_MIN_SHARE` of the frame gets 1 to :data:`STROKE_MAX_DISCS`
    discs of radius :data:`STROKE_RADIUS` (scaled with the frame's width): the first where it
    is farthest from the region's border, the others chosen by ``seed`` among the points
    far enough from it (the whole disc inside the region, off its border pixels) where the
    original is flat under the disc (:data:`STROKE_FLAT_LEVELS`). A disc carries the
    original's pixels under it.

    Args:
        light: the grey frame's L ``(H, W)``.
        truth: the colour original's frame, RGB uint8 (scaled to ``light``'s size).
        seed: the random choice of the discs after the first of each region.

    Returns:
        RGBA uint8 ``(H, W, 4)``: alpha 255 on the discs, 0 (and RGB 0) elsewhere.

    >>> light = np.zeros((48, 64), np.float32); light[:, 32:] = 80.0
    >>> truth = np.zeros((48, 64, 3), np.uint8); truth[:, 32:] = (200, 40, 40)
    >>> rgba = stroke_hint(light, truth)
    >>> bool(0 < (rgba[..., 3] > 0).mean() < 0.1), rgba[rgba[..., 3] > 0][:, :3].max(axis=0)
    (True, array([200,  40,  40], dtype=uint8))
    """
    from scipy import ndimage

    from vidcolor.inference.refine.registry import segment

    height, width = light.shape
    if truth.shape[:2] != (height, width):
        truth = cv2.resize(truth, (width, height), interpolation=cv2.INTER_AREA)
    radius = max(1, round(STROKE_RADIUS * width / STROKE_WIDTH))
    disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    spread = np.max([cv2.dilate(channel, disc).astype(np.int16) - cv2.erode(channel, disc)
                     for channel in cv2.split(np.ascontiguousarray(truth))], axis=0)
    flat = spread <= STROKE_FLAT_LEVELS
    labels = segment(light, "regiongrow")
    assert labels is not None
    sizes = np.bincount(labels.ravel())
    area = height * width
    rng = np.random.default_rng(seed)
    alpha = np.zeros((height, width), np.uint8)
    for label, box in enumerate(ndimage.find_objects(labels + 1)):
        if box is None or sizes[label] <= STROKE_MIN_SHARE * area:
            continue
        inside = np.pad(labels[box] == label, 1).astype(np.uint8)
        distance = cv2.distanceTransform(inside, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)[1:-1, 1:-1]
        ys, xs = np.nonzero((distance >= radius + 2) & flat[box])
        if not len(ys):
            continue
        wanted = min(STROKE_MAX_DISCS, 1 + int(sizes[label] / (STROKE_SHARE_STEP * area)))
        order = [int(np.argmax(distance[ys, xs])),
                 *rng.permutation(len(ys))[:_STROKE_TRIES].tolist()]
        chosen: list[tuple[int, int]] = []
        for at in order:
            y, x = int(ys[at]), int(xs[at])
            if all(np.hypot(y - cy, x - cx) >= STROKE_SPACING * radius for cy, cx in chosen):
                chosen.append((y, x))
                if len(chosen) == wanted:
                    break
        for y, x in chosen:
            cv2.circle(alpha, (box[1].start + x, box[0].start + y), radius, 255, -1)
    painted = alpha > 0
    rgba = np.zeros((height, width, 4), np.uint8)
    rgba[painted, :3] = truth[painted]
    rgba[..., 3] = alpha
    return rgba


def _check_output(output: str | os.PathLike[str], inputs: Sequence[Path]) -> Path:
    """Refuse, before any work, an output folder that is a file, cannot be made, or is one of
    the inputs (a folder of images would gain frames)."""
    from vidcolor.inference.outputs import check_output_folder

    output = Path(output)
    check_output_folder(output, "output folder")
    for path in inputs:
        if output.resolve() == path.resolve():
            raise OutputError(f"{output}: is an input of this command ({path}); choose "
                              "another -o")
    return output


def _make_folder(folder: Path) -> None:
    from vidcolor.fsutil import ensure_writable_dir

    ensure_writable_dir(folder)


def _frame_count(source: Source) -> int:
    """The exact frame count (a video whose container does not state it is counted)."""
    if source.kind != "video" or getattr(source.video, "frame_count_exact", False):
        return source.count
    return sum(1 for _ in source.frames())


def _pick(streams: Sequence[Source], wanted: Sequence[int], desc: str, progress: bool
          ) -> Iterator[tuple[int, list[SourceFrame]]]:
    """The frames ``wanted`` (sorted) of every stream, in lockstep; decoding stops after the
    last one."""
    from vidcolor import progress as progress_mod

    if not wanted:
        return
    wanted_set, last = set(wanted), wanted[-1]
    with contextlib.ExitStack() as stack, \
            progress_mod.bar(total=last + 1, desc=desc, unit="frame", enabled=progress) as bar:
        iterators = [stack.enter_context(contextlib.closing(s.frames())) for s in streams]
        for index in range(last + 1):
            frames = [next(iterator, None) for iterator in iterators]
            missing = [s.path for s, f in zip(streams, frames, strict=True) if f is None]
            if missing:
                raise InputError(f"{missing[0]}: ends after {index} frames, before frame {last}")
            bar.update(1)
            if index in wanted_set:
                yield index, frames  # type: ignore[misc]


def _write_png(path: Path, rgb: np.ndarray) -> None:
    """An RGB or RGBA uint8 image as PNG, atomically."""
    from vidcolor.fsutil import write_bytes_atomic

    code = cv2.COLOR_RGBA2BGRA if rgb.shape[2] == 4 else cv2.COLOR_RGB2BGR
    ok, data = cv2.imencode(".png", cv2.cvtColor(rgb, code))
    if not ok:  # pragma: no cover - encoding an uint8 array does not fail
        raise OutputError(f"{path}: cannot encode the image")
    write_bytes_atomic(path, data.tobytes())


def _write_table(path: Path, shots: Sequence[Shot]) -> None:
    from vidcolor.fsutil import write_bytes_atomic

    write_bytes_atomic(path, shot_table(shots).encode())
    story = sum(shot.kind == "story" for shot in shots)
    log.debug("%s: %d shots, %d to paint", path, len(shots), story)


def _warn_stale(folder: Path, written: Sequence[int], what: str) -> None:
    """Warn about images in ``folder`` named like a still but not written now (left from an
    earlier export: ``render --hints`` would read them too)."""
    from vidcolor.inference.hints import HINT_NAME

    keep = set(written)
    stale = sorted(p.name for p in folder.iterdir()
                   if (match := HINT_NAME.match(p.name)) and int(match.group(1)) not in keep)
    if stale:
        log.warning("%s: %d %s(s) not of this export (e.g. %s), left from an earlier one; "
                    "remove them", folder, len(stale), what, stale[0])
