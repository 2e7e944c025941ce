"""Checks on what a command will write and pair, before any work: output names and folders
(never an input of the command, never a name the file system cannot hold, never a folder where a
file goes) and frame rates of videos compared frame by frame.

Used by ``render``, ``evaluate``, ``shots`` and season renders; no torch, no PyAV.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from vidcolor.errors import InputError, OutputError, VidcolorError
from vidcolor.inference.sources import IMAGE_EXTENSIONS

if TYPE_CHECKING:
    from vidcolor.inference.sources import Source

VIDEO_OUTPUT_EXTENSIONS = (".mp4", ".mkv", ".mov", ".avi", ".m4v")


def default_output(input_path: str | os.PathLike[str]) -> Path:
    """``<stem>.colorized.<ext>`` next to the input (a folder: ``<name>.colorized``).

    A video whose container cannot hold H.264 (e.g. .webm) gets ``.mkv``.
    """
    path = Path(input_path)
    if path.name in ("", ".", ".."):  # "." or "..": name the folder itself
        path = path.resolve()
    if path.is_dir():
        return path.with_name(f"{path.name}.colorized")
    ext = path.suffix
    if path.suffix.lower() not in IMAGE_EXTENSIONS + VIDEO_OUTPUT_EXTENSIONS:
        ext = ".mkv"
    return path.with_name(f"{path.stem}.colorized{ext}")


def same_file(a: Path, b: Path) -> bool:
    with contextlib.suppress(OSError):
        if a.exists() and b.exists() and os.path.samefile(a, b):
            return True
    return a.resolve() == b.resolve()


#: Bytes the longest name vidcolor keeps beside an output adds to the output's name: its
#: staging folder ``.<name>.vidcolor-<16 hex digits>`` (the record adds 14, the lock 6).
BESIDE_NAME_BYTES = 27


def check_output(output: Path, kind: str, protected: Sequence[Path],
                 images: Sequence[str] = ()) -> None:
    """Refuse an output that would replace an input of the command or cannot be written.

    Args:
        output: the output path.
        kind: the input's kind (``video``, ``image``, ``folder``).
        protected: every input of the command (input, truth, model files): never overwritten.
        images: for a folder, the names of the images that will be written into it.

    Raises:
        OutputError: one line naming the output and the problem.
    """
    from vidcolor.inference.records import record_path

    inner = max((len(os.fsencode(name)) for name in images), default=len("seg-000000.mp4"))
    check_name_length(output, BESIDE_NAME_BYTES, inner)
    for path in protected:
        if same_file(path, output):
            raise OutputError(f"{output}: the output would overwrite {path}, an input of this "
                              "command; choose another -o")
    parent = output.parent if str(output.parent) else Path(".")
    if not parent.is_dir():
        raise OutputError(f"{output}: output folder {parent} does not exist")
    check_replaceable(record_path(output), "the record of the output")
    if kind == "folder":
        if output.exists() and not output.is_dir():
            raise OutputError(f"{output}: exists and is not a folder (images go into a folder)")
        where = output if output.is_dir() else parent
        if not os.access(where, os.W_OK | os.X_OK):
            raise OutputError(f"{output}: output folder {where} is not writable")
        if output.is_dir():
            for name in images:
                check_replaceable(output / name, "a rendered image")
        return
    check_replaceable(output, "an earlier output")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputError(f"{output}: output folder {parent} is not writable")
    if output.is_dir():
        raise OutputError(f"{output}: is a folder; give a file name for the output")
    if kind == "video" and output.suffix.lower() not in VIDEO_OUTPUT_EXTENSIONS:
        raise OutputError(f"{output}: cannot write H.264 video as {output.suffix or 'no'} file; "
                          f"use one of {', '.join(VIDEO_OUTPUT_EXTENSIONS)}")
    if kind == "image" and output.suffix.lower() not in IMAGE_EXTENSIONS:
        raise OutputError(f"{output}: not an image file name; use one of "
                          f"{', '.join(IMAGE_EXTENSIONS)}")


def check_replaceable(path: Path, what: str) -> None:
    """Refuse, before any work, a file the render would replace but cannot: a folder in its
    place, or a read-only (or immutable) file.

    Raises:
        OutputError: naming the path and ``what`` vidcolor would write there.
    """
    if path.is_dir():
        raise OutputError(f"{path}: is a folder where vidcolor writes {what}; remove it or "
                          "choose another -o")
    if path.exists() and not os.access(path, os.W_OK):
        raise OutputError(f"{path}: {what} here is read-only and would be replaced; make it "
                          "writable, remove it, or choose another -o")


def check_name_length(path: Path, beside: int = 0, inner: int = 0,
                      error: type[VidcolorError] = OutputError) -> None:
    """Refuse a path the file system cannot hold, before anything touches it: a name longer
    than the folder allows (``beside``: bytes added to it by the files kept beside it) or a
    whole path (``inner``: the longest name kept inside it) longer than the system's limit.

    Raises:
        OutputError (or ``error``): naming the path (shortened), its length and the limit.
    """
    parent = path.parent if str(path.parent) else Path(".")
    existing = next((p for p in (parent, *parent.parents) if _is_dir(p)), Path("."))
    try:
        name_max = os.pathconf(existing, "PC_NAME_MAX")
        path_max = os.pathconf(existing, "PC_PATH_MAX")
    except (OSError, ValueError):
        name_max, path_max = 255, 4096
    shown = str(path) if len(str(path)) <= 300 else f"{str(path)[:150]}...{str(path)[-100:]}"
    name = len(os.fsencode(path.name))
    if name + beside > name_max:
        kept = " (vidcolor keeps files named after it beside it)" if beside else ""
        raise error(f"{shown}: the name is {name} bytes; at most {name_max - beside} fit"
                    f"{kept}; use a shorter name")
    # the system sees the path as given (relative to the working folder) and, in places, made
    # absolute: both must fit
    length = max(len(os.fsencode(str(path))), len(os.fsencode(os.path.abspath(path)))) + \
        (beside + 1 + inner if inner else 0)
    if length >= path_max:
        kept = " with the files vidcolor keeps in and beside it" if inner else ""
        raise error(f"{shown}: the path is {length} bytes{kept}, more than the system's "
                    f"{path_max - 1}; use a shorter path")


def _is_dir(path: Path) -> bool:
    try:
        return path.is_dir()
    except OSError:  # e.g. a path longer than the system's limit
        return False


def check_output_folder(folder: Path, what: str = "output folder") -> None:
    """Refuse, before any work, an output folder that cannot be made: a file, under a file,
    not writable, or a name too long.

    Raises:
        OutputError: naming the folder and the problem.
    """
    check_name_length(folder, 1, 64)
    if folder.exists() and not folder.is_dir():
        raise OutputError(f"{folder}: exists and is not a folder (the {what})")
    existing = next((p for p in (folder, *folder.parents) if p.exists() or p.is_symlink()),
                    Path("."))
    if not existing.is_dir():
        raise OutputError(f"{folder}: cannot be made: {existing} is not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise OutputError(f"{folder}: cannot be written: {existing} is not writable")


#: Frame rates closer than this (relative) are the same rate (23.976 stored as 24000/1001 or
#: rounded by a container).
RATE_TOLERANCE = 1e-3


def check_same_rate(result: Source, truth: Source) -> None:
    """Refuse to pair the frames of videos at different frame rates: frame i of a 12 fps
    result and of a 25 fps truth show different moments, and every figure would be wrong.

    Raises:
        InputError: naming both files and both rates.
    """
    if result.video is None or truth.video is None:
        return
    rates = float(result.video.frame_rate), float(truth.video.frame_rate)
    if min(rates) > 0 and abs(rates[0] - rates[1]) > RATE_TOLERANCE * max(rates):
        raise InputError(f"{result.path}: {rates[0]:.6g} fps, but the truth {truth.path} is "
                         f"{rates[1]:.6g} fps: their frames show different moments and cannot "
                         "be compared frame by frame")
