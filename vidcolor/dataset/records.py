"""The records of a dataset folder: names, fields, and each read back and checked.

Episode and frame names (:func:`episode_name`, :func:`frame_path`), the columns of
``manifest.csv`` and ``excluded.csv``, the parameters ``meta.json`` records
(:class:`DatasetParams`), ``meta.json`` read back with its structure checked
(:func:`_read_meta`), rows of ``excluded.csv`` read back field by field
(:func:`read_excluded`), and the identity of an episode's source file. Everything read here is
untrusted (see :mod:`vidcolor.dataset`): a malformed field is an error that names it.
"""

from __future__ import annotations

import csv
import hashlib
import io
import math
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vidcolor.color.grey import GreyModel, grey_model_from_dict
from vidcolor.errors import DatasetError
from vidcolor.extract import DEDUP_THRESHOLD
from vidcolor.fsutil import read_json, read_text, write_bytes_atomic

MANIFEST_FIELDS = ["path", "episode", "source", "frame_index", "pts", "time", "mse", "split"]
EXCLUDED_FIELDS = ["episode", "source", "frame_index", "pts", "time", "reason",
                   "background_rgb", "text_rgb", "grey_background_y", "grey_text_y"]


@dataclass(frozen=True)
class DatasetParams:
    """Parameters that decide a dataset's content; a dataset only grows with the same ones."""

    size: int = 256
    dedup_threshold: float = DEDUP_THRESHOLD
    credit_filter: bool = True


@dataclass(frozen=True)
class ExcludedFrame:
    """A frame the credit filter dropped (a row of ``excluded.csv``).

    ``background_rgb`` and ``text_rgb`` are the credit screen's two k-means colours (the
    background is the blue cluster); ``grey_background_y`` and ``grey_text_y`` the luminance
    of its background and text (:func:`vidcolor.extract.credit_signature` of its L). Each is
    None in datasets built before it was recorded.
    """

    episode: str
    source: str
    frame_index: int
    time: float
    reason: str
    background_rgb: tuple[int, int, int] | None
    text_rgb: tuple[int, int, int] | None
    grey_background_y: float | None = None
    grey_text_y: float | None = None


#: What :func:`episode_name` makes: a folder name that stays inside ``frames/``.
_SAFE_NAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]*")
#: The longest episode name: its staging folder ``.<name>.partial`` fits the 255 bytes a file
#: name may have. A longer stem keeps its start and gets a digest of the whole stem.
MAX_NAME = 246
#: A frame's file name (``frame_index`` as 6 digits or more).
_FRAME_FILE = re.compile(r"[0-9]{6,9}\.png")
_COUNT = re.compile(r"[0-9]{1,9}")
#: What a dataset folder holds besides hidden files (temporary names, backups).
_DATASET_ENTRIES = frozenset({"meta.json", "manifest.csv", "excluded.csv", "series.json",
                              "frames"})


def episode_name(path: str | os.PathLike[str]) -> str:
    """The episode name of a video file: its stem, made safe as a folder name.

    Leading dots are dropped: a name of ``.`` or ``..`` would be the frames folder or the
    dataset itself, and a hidden name would look like a staging folder. A stem longer than
    :data:`MAX_NAME` is cut, with a digest of the whole stem so that long names that differ
    stay apart.

    >>> [episode_name(p) for p in ("ep 1.mkv", "...mkv", "..mkv", ".hidden.mkv", "a/b.c.mkv")]
    ['ep_1', 'episode', 'episode', 'hidden', 'b.c']
    >>> len(episode_name("x" * 250 + ".mkv")), episode_name("x" * 250 + ".mkv")[-9:]
    (246, '-c37ef17c')
    """
    stem = Path(path).stem
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", stem).lstrip(".") or "episode"
    if len(name) > MAX_NAME:
        digest = hashlib.sha1(os.fsencode(stem)).hexdigest()[:8]
        name = f"{name[:MAX_NAME - 9]}-{digest}"
    return name


def is_episode_name(name: object) -> bool:
    """Whether ``name`` (read from a file) is a name :func:`episode_name` can make, and so a
    folder name that stays inside ``frames/``.

    >>> [is_episode_name(n) for n in ("ep_1", "..", "a/b", ".x", "", 3, "x" * 247)]
    [True, False, False, False, False, False, False]
    """
    return isinstance(name, str) and len(name) <= MAX_NAME and bool(_SAFE_NAME.fullmatch(name))


def frame_path(episode: str, frame_index: int) -> str:
    """Where a dataset stores a frame, relative to the dataset folder.

    >>> frame_path("ep1", 42)
    'frames/ep1/000042.png'
    """
    return f"frames/{episode}/{frame_index:06d}.png"


def _shown(value: object) -> str:
    """``repr`` of a value read from a file, cut to a readable length."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _is_count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _read_meta(output: Path) -> dict | None:
    """``meta.json`` with its structure checked (None when there is none); the fields of each
    episode's record are checked with the manifest (:func:`dataset_problems`)."""
    meta_path = output / "meta.json"
    meta = read_json(meta_path)
    if meta is None:
        return None

    def damaged(what: str) -> DatasetError:
        return DatasetError(f"{meta_path}: damaged dataset metadata ({what})")

    if not isinstance(meta, dict) or not isinstance(meta.get("params"), dict):
        raise DatasetError(f"{meta_path}: not a vidcolor dataset")
    params = meta["params"]
    if not (_is_count(params.get("size")) and isinstance(params.get("credit_filter"), bool)
            and isinstance(params.get("dedup_threshold"), int | float)
            and not isinstance(params.get("dedup_threshold"), bool)):
        raise damaged(f"params {_shown(params)} are not a size, a dedup_threshold and a "
                      "credit_filter")
    tests = meta.get("test_episodes")
    if not isinstance(tests, list) or not all(is_episode_name(name) for name in tests):
        raise damaged(f"test_episodes {_shown(tests)} is not a list of episode names")
    try:
        _grey_of_meta(meta)
    except ValueError as exc:
        raise damaged(str(exc)) from None
    for key in ("episodes", "greyscale"):
        records = meta.get(key, {})
        if not isinstance(records, dict):
            raise damaged(f"{key} is not a mapping")
        for name, record in records.items():
            # an episode's name becomes the folder frames/<name>: it must stay inside it
            if not is_episode_name(name):
                raise damaged(f"episode name {_shown(name)} is not a plain folder name")
            if not isinstance(record, dict):
                raise damaged(f"{key}: the record of episode {name!r} is not a mapping")
    return meta


def _grey_of_meta(meta: dict) -> GreyModel:
    """The grey model a dataset's metadata records (luminance when it records none).

    Raises:
        ValueError: a damaged record.
    """
    return grey_model_from_dict(meta.get("grey", {"name": "luminance"}))


def _read_csv(path: Path) -> list[dict[str, str]]:
    text = read_text(path)
    if text is None:
        return []
    try:
        return list(csv.DictReader(io.StringIO(text, newline="")))
    except csv.Error as exc:
        raise DatasetError(f"{path}: unreadable ({exc})") from None


def _write_csv(path: Path, fields: list[str], rows: list[dict]) -> None:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=fields, lineterminator="\n", restval="",
                            extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    write_bytes_atomic(path, buffer.getvalue().encode())


def _rgb_text(colour: np.ndarray) -> str:
    """A colour as ``excluded.csv`` stores it: ``"R G B"``, integers 0–255."""
    return " ".join(str(int(v)) for v in np.clip(np.round(colour), 0, 255))


def _parse_rgb(text: str | None) -> tuple[int, int, int] | None:
    """``"0 30 255"`` -> ``(0, 30, 255)``; empty or malformed -> None.

    >>> _parse_rgb("0 30 255"), _parse_rgb(""), _parse_rgb(None)
    ((0, 30, 255), None, None)
    """
    parts = (text or "").split()
    if len(parts) != 3 or not all(p.isdigit() and int(p) <= 255 for p in parts):
        return None
    red, green, blue = (int(p) for p in parts)
    return red, green, blue


def _parse_luminance(text: str | None) -> float | None:
    """``"0.0823"`` -> 0.0823; empty, malformed or outside (0, 1] -> None.

    >>> [_parse_luminance(text) for text in ("0.0823", "nan", "2", "", None)]
    [0.0823, None, None, None, None]
    """
    try:
        value = float(text or "")
    except ValueError:
        return None
    return value if 0.0 < value <= 1.0 else None


def _parse_index(text: str | None) -> int:
    """A frame index read from a file: a plain count of up to 9 digits.

    Raises:
        ValueError: anything else, naming the field.
    """
    if not isinstance(text, str) or not _COUNT.fullmatch(text):
        raise ValueError(f"frame_index {_shown(text)} is not a frame number")
    return int(text)


def _parse_time(text: str | None) -> float:
    """A frame time in seconds read from a file: a finite number.

    Raises:
        ValueError: anything else, naming the field.
    """
    try:
        value = float(text)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        value = math.nan
    if not math.isfinite(value):
        raise ValueError(f"time {_shown(text)} is not a time in seconds")
    return value


def _excluded_frame(row: dict[str, str]) -> ExcludedFrame:
    """A row of ``excluded.csv`` read back.

    Raises:
        ValueError: a missing or malformed field, naming it.
    """
    for key in ("episode", "source", "reason"):
        if not isinstance(row.get(key), str):
            raise ValueError(f"{key} is missing")
    return ExcludedFrame(episode=row["episode"], source=row["source"],
                         frame_index=_parse_index(row.get("frame_index")),
                         time=_parse_time(row.get("time")), reason=row["reason"],
                         background_rgb=_parse_rgb(row.get("background_rgb")),
                         text_rgb=_parse_rgb(row.get("text_rgb")),
                         grey_background_y=_parse_luminance(row.get("grey_background_y")),
                         grey_text_y=_parse_luminance(row.get("grey_text_y")))


def read_excluded(dataset_dir: str | os.PathLike[str]) -> list[ExcludedFrame]:
    """The credit frames a dataset's build dropped, with their colours where recorded.

    Reads ``excluded.csv`` of any version: files written before the colour columns existed
    give ``background_rgb = text_rgb = None``.

    Raises:
        DatasetError: the file is unreadable or a row is damaged (naming the row and field).
    """
    path = Path(dataset_dir) / "excluded.csv"
    frames = []
    for number, row in enumerate(_read_csv(path), start=1):
        try:
            frames.append(_excluded_frame(row))
        except ValueError as exc:
            raise DatasetError(f"{path}: damaged row {number} ({exc})") from None
    return frames


def _printable(path: str | os.PathLike[str]) -> str:
    """A path for a message, with bytes that are not UTF-8 shown as ``\\xff``."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def _source_identity(path: Path) -> dict:
    info = path.stat()
    return {"source": os.path.realpath(path), "bytes": info.st_size,
            "mtime": int(info.st_mtime)}


def _is_regular(path: Path, *, follow: bool = True) -> bool:
    """Whether ``path`` is a regular file (not following a final link unless ``follow``);
    False for any path the system refuses (too long, a loop, a NUL byte)."""
    try:
        mode = path.stat().st_mode if follow else path.lstat().st_mode
    except (OSError, ValueError):
        return False
    return stat.S_ISREG(mode)


def _is_folder(path: Path) -> bool:
    """Whether ``path`` is a folder itself, not a link to one."""
    try:
        return stat.S_ISDIR(path.lstat().st_mode)
    except (OSError, ValueError):
        return False


def _same_source(path: Path, record: object) -> bool:
    if not isinstance(record, dict) or not _is_regular(path):
        return False
    return {k: record.get(k) for k in ("source", "bytes", "mtime")} == _source_identity(path)
