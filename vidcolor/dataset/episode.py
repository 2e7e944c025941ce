"""One episode into a dataset: its frames decoded, deduplicated, credit screens dropped, and
written as PNG to a hidden staging folder that is renamed into place when the episode is
complete (:func:`_extract_episode`).

Only folders that hold nothing but frames are ever removed (:func:`_remove_frames_folder`).
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import shutil
import stat
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from vidcolor import progress
from vidcolor.color.grey import GreyModel, model_lightness
from vidcolor.dataset.records import (
    _FRAME_FILE,
    DatasetParams,
    _is_folder,
    _printable,
    _rgb_text,
    _shown,
    _source_identity,
    frame_path,
)
from vidcolor.errors import InputError, OutputError, VidcolorError
from vidcolor.extract import (
    CreditRule,
    DuplicateFilter,
    chroma_level,
    credit_colours,
    credit_signature,
)
from vidcolor.fsutil import STORAGE_ERRNOS, storage_error
from vidcolor.video.decode import iter_frames
from vidcolor.video.probe import probe

log = logging.getLogger(__name__)

#: Below this mean channel spread (0–255) over all kept frames, an episode is taken as greyscale.
GREYSCALE_CHROMA = 2.0


@dataclass
class EpisodeReport:
    """What building did with one episode."""

    episode: str
    source: str
    decoded: int = 0
    stored: int = 0
    duplicates: int = 0
    credits: int = 0
    #: added | repaired | re-extracted (the grey model changed) | unchanged |
    #: skipped-greyscale | skipped-error
    status: str = "added"
    message: str = ""


def check_episode_file(path: Path) -> None:
    """Check that an episode file can be read and recorded: a regular file (a pipe would block
    and a device never end) whose path is UTF-8 text (``meta.json`` and ``manifest.csv``
    record it, and a repair opens it again from there).

    Raises:
        InputError: naming the file and what is wrong.
    """
    try:
        mode = path.stat().st_mode
    except (OSError, ValueError) as exc:
        missing = getattr(exc, "errno", None) in (errno.ENOENT, errno.ENOTDIR)
        raise InputError(f"{_printable(path)}: " + ("no such file" if missing else
                         f"cannot open ({getattr(exc, 'strerror', None) or exc})")) from None
    if not stat.S_ISREG(mode):
        raise InputError(f"{_printable(path)}: " + (
            "not a file" if stat.S_ISDIR(mode) else
            "not a regular file (a pipe, socket or device); give a video file"))
    try:
        _source_identity(path)["source"].encode("utf-8")
    except UnicodeEncodeError:
        raise InputError(f"{_printable(path)}: the file's path is not UTF-8 text and cannot be "
                         "recorded in the dataset; rename the file") from None


def _extract_episode(path: Path, name: str, frames_root: Path, params: DatasetParams,
                     rule: CreditRule, skip_errors: bool, progress_bar: bool,
                     grey: GreyModel | None = None
                     ) -> tuple[EpisodeReport, list[dict], list[dict]]:
    """Extract one episode's frames; a credit frame is dropped and its signature recorded as
    a black and white made with ``grey`` shows it (None: luminance, the colour's own L)."""
    info = probe(path)
    staging = _new_staging_folder(frames_root, name)
    final = frames_root / name
    report = EpisodeReport(name, str(path))
    rows, dropped, chroma = _write_frames(path, name, staging, params, rule, skip_errors,
                                          progress_bar, info.frame_count or None, grey, report)
    report.stored = len(rows)
    if rows and chroma < GREYSCALE_CHROMA:
        _discard(staging)
        report.status = "skipped-greyscale"
        report.message = (f"{path}: greyscale episode (no chroma); it cannot teach colours "
                          "and is not used")
        log.warning("%s", report.message)
        return report, [], []
    if not rows:
        _discard(staging)
        raise InputError(f"{path}: no story frames left after filtering")
    _move_into_place(staging, final)
    return report, rows, dropped


def _new_staging_folder(frames_root: Path, name: str) -> Path:
    """An empty hidden folder ``.<name>.partial`` for an episode's frames (one left by a
    crash is removed first).

    Raises:
        OutputError: it cannot be created, or the old one holds anything but frames.
    """
    staging = frames_root / f".{name}.partial"
    _remove_frames_folder(staging)
    try:
        staging.mkdir()
    except OSError as exc:
        raise _write_error(staging, exc) from None
    return staging


def _write_frames(path: Path, name: str, staging: Path, params: DatasetParams,
                  rule: CreditRule, skip_errors: bool, progress_bar: bool, total: int | None,
                  grey: GreyModel | None, report: EpisodeReport
                  ) -> tuple[list[dict], list[dict], float]:
    """Decode an episode and write the frames it keeps into ``staging`` as PNG, counting the
    decoded, duplicate and credit frames in ``report``; on any error ``staging`` is removed.

    Returns:
        The manifest rows of the stored frames, the ``excluded.csv`` rows of the credit
        frames, and the chroma level seen (it stops growing once it reaches
        :data:`GREYSCALE_CHROMA`).
    """
    rows: list[dict] = []
    dropped: list[dict] = []
    dedup = DuplicateFilter(params.dedup_threshold)
    chroma = 0.0
    pending: list[Future] = []
    # PNG encoding releases the GIL: two writer threads overlap it with decoding.
    with ThreadPoolExecutor(max_workers=2) as writers, progress.bar(
            total=total, desc=name, unit="frame", enabled=progress_bar) as bar:
        try:
            for frame in iter_frames(path, skip_errors=skip_errors,
                                     size=(params.size, params.size)):
                report.decoded += 1
                bar.update()
                small = frame.rgb
                accepted, mse = dedup(small)
                if not accepted:
                    report.duplicates += 1
                    continue
                where = {"episode": name, "source": str(path), "frame_index": frame.index,
                         "pts": "" if frame.pts is None else frame.pts,
                         "time": f"{frame.time:.6f}"}
                colours = credit_colours(small, rule) if params.credit_filter else None
                if colours is not None:
                    report.credits += 1
                    dropped.append(_credit_row(where, small, colours, grey))
                    continue
                if chroma < GREYSCALE_CHROMA:  # once colour is seen, the answer is known
                    chroma = max(chroma, chroma_level(small))
                relative = frame_path(name, frame.index)
                pending.append(writers.submit(_write_png, staging / Path(relative).name,
                                              small))
                rows.append({"path": relative, **where,
                             "mse": "" if mse is None else f"{mse:.3f}"})
                if len(pending) > 32:
                    pending.pop(0).result()
            for job in pending:
                job.result()
        except BaseException:
            for job in pending:
                job.cancel()
            writers.shutdown(wait=True)
            _discard(staging)
            raise
    return rows, dropped, chroma


def _credit_row(where: dict, rgb: np.ndarray, colours: tuple[np.ndarray, np.ndarray],
                grey: GreyModel | None) -> dict:
    """The ``excluded.csv`` row of a credit frame at ``where``: its two colours and its grey
    signature as a black and white made with ``grey`` shows it (None: luminance)."""
    signature = credit_signature(model_lightness(rgb, grey or "luminance"))
    return {**where, "reason": "credits", "background_rgb": _rgb_text(colours[0]),
            "text_rgb": _rgb_text(colours[1]),
            "grey_background_y": "" if signature is None else f"{signature.background:.6f}",
            "grey_text_y": "" if signature is None else f"{signature.text:.6f}"}


def _move_into_place(staging: Path, final: Path) -> None:
    """Rename a complete staging folder to the episode's folder, replacing its old frames;
    on failure the staging folder is removed.

    Raises:
        OutputError: the old frames cannot be removed or the rename fails.
    """
    try:
        _remove_frames_folder(final)
        os.replace(staging, final)
    except OSError as exc:
        _discard(staging)
        raise _write_error(final, exc) from None
    except BaseException:
        _discard(staging)
        raise


#: Lossless PNG settings chosen by measurement on 256×256 frames (real and cartoon): the "up"
#: filter with zlib's RLE strategy at level 1 encodes about twice as fast as the defaults, at
#: about the same size.
PNG_PARAMS = [cv2.IMWRITE_PNG_COMPRESSION, 1, cv2.IMWRITE_PNG_STRATEGY,
              cv2.IMWRITE_PNG_STRATEGY_RLE, cv2.IMWRITE_PNG_FILTER, cv2.IMWRITE_PNG_FILTER_UP]


def _write_png(target: Path, rgb) -> None:
    ok, data = cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), PNG_PARAMS)
    if not ok:
        raise VidcolorError(f"{target}: PNG encoding failed")
    try:
        target.write_bytes(data.tobytes())
    except OSError as exc:  # the staging folder is removed, so nothing half-written stays
        raise _write_error(target, exc) from None


def _write_error(path: Path, exc: OSError) -> OutputError:
    """The one-line error for a file or folder of the dataset the system would not write."""
    if exc.errno in STORAGE_ERRNOS:
        return storage_error(path, exc)
    return OutputError(f"{path}: cannot write ({exc.strerror or exc})")


def _remove_frames_folder(folder: Path) -> None:
    """Remove a folder of frames a build wrote (a staging folder, a stray, an episode's old
    frames); a link there is removed, never followed.

    Raises:
        OutputError: it holds anything but frames (vidcolor deletes only what it wrote), or it
            cannot be removed.
    """
    try:
        if not _is_folder(folder):
            if folder.is_symlink():
                folder.unlink()
            elif os.path.lexists(folder):
                raise OutputError(f"{folder}: not a folder of frames; move it away")
            return
        foreign = [entry.name for entry in os.scandir(folder)
                   if not _FRAME_FILE.fullmatch(entry.name)
                   or entry.is_dir(follow_symlinks=False)]
        if foreign:
            raise OutputError(f"{folder}: holds {_shown(foreign[0])}, which vidcolor did not "
                              "write; move it away")
        shutil.rmtree(folder)
    except OSError as exc:
        raise OutputError(f"{folder}: cannot remove ({exc.strerror or exc})") from None


def _discard(folder: Path) -> None:
    """:func:`_remove_frames_folder` while another error is on its way out."""
    with contextlib.suppress(VidcolorError):
        _remove_frames_folder(folder)
