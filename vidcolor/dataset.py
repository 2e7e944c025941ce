"""The training dataset: frames of whole episodes, deduplicated, credit-filtered, split by episode.

Layout of a dataset folder (default ``./dataset``)::

    meta.json       parameters, version, test set, finished episodes (source, size, mtime,
                    stored/decoded/credit counts, split), greyscale episodes that were skipped,
                    the grey model of the series' black and white (``grey``,
                    :meth:`vidcolor.color.GreyModel.to_dict`; absent in older datasets:
                    luminance)
    manifest.csv    one row per stored frame: path,episode,source,frame_index,pts,time,mse,split
    excluded.csv    dropped credit frames, for review: episode,source,frame_index,pts,time,
                    reason,background_rgb,text_rgb (the credit screen's two colours, "R G B"),
                    grey_background_y,grey_text_y (its grey signature: the luminance of its
                    background and text, :func:`vidcolor.extract.credit_signature`)
    frames/<episode>/<frame_index>.png   256×256 RGB, lossless

One writer at a time: building holds an exclusive lock beside the folder
(:func:`vidcolor.fsutil.exclusive`), so a second build into the same folder waits or stops with
one line. Building is incremental and resumable at episode granularity: an episode's frames are
written to a hidden staging folder that is renamed into place when the episode is complete, and
only then are the excluded list, the manifest and the metadata rewritten (each atomically, the
metadata last). ``meta.json`` is therefore the record of what is complete: every build first
checks it against the manifest and the frames on disk (:func:`dataset_problems`) and extracts
again the episodes that disagree, and :func:`load_split` refuses a dataset that disagrees.

Everything read back is untrusted (a hand-edited or damaged dataset, a hostile one): each file
is read only if it is a regular file (a pipe would block forever), ``meta.json`` is checked field
by field, and a manifest row must name exactly ``frames/<episode>/<frame_index>.png`` of its own
episode, a regular file that is not a link; frames are read and folders deleted inside the
dataset only, and only folders that hold nothing but frames (:func:`_remove_frames_folder`).
Episode names are made from file names (:func:`episode_name`): safe folder names of at most
:data:`MAX_NAME` characters. An episode file whose path is not UTF-8 text is refused: its path
is recorded in ``meta.json`` and ``manifest.csv`` and must be found again from them.
A failed write (a full disk) leaves the dataset as it was (:func:`_commit`).
"""

from __future__ import annotations

import contextlib
import csv
import errno
import hashlib
import io
import logging
import math
import os
import re
import shutil
import stat
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np

from vidcolor import __version__, progress
from vidcolor.color import (
    GreyModel,
    as_grey_model,
    grey_model_from_dict,
    model_lightness,
)
from vidcolor.errors import DatasetError, InputError, OutputError, VidcolorError
from vidcolor.extract import (
    DEDUP_THRESHOLD,
    CreditRule,
    DuplicateFilter,
    chroma_level,
    credit_colours,
    credit_signature,
)
from vidcolor.fsutil import (
    STORAGE_ERRNOS,
    ensure_writable_dir,
    exclusive,
    read_json,
    read_text,
    storage_error,
    write_bytes_atomic,
    write_json_atomic,
)
from vidcolor.video.decode import iter_frames
from vidcolor.video.probe import probe

if TYPE_CHECKING:
    from vidcolor.series import SeriesLook

log = logging.getLogger(__name__)

MANIFEST_FIELDS = ["path", "episode", "source", "frame_index", "pts", "time", "mse", "split"]
EXCLUDED_FIELDS = ["episode", "source", "frame_index", "pts", "time", "reason",
                   "background_rgb", "text_rgb", "grey_background_y", "grey_text_y"]
#: Below this mean channel spread (0–255) over all kept frames, an episode is taken as greyscale.
GREYSCALE_CHROMA = 2.0
DEFAULT_CREDIT_RULE = CreditRule()


@dataclass(frozen=True)
class DatasetParams:
    """Parameters that decide a dataset's content; a dataset only grows with the same ones."""

    size: int = 256
    dedup_threshold: float = DEDUP_THRESHOLD
    credit_filter: bool = True


@dataclass
class EpisodeReport:
    """What building did with one episode."""

    episode: str
    source: str
    decoded: int = 0
    stored: int = 0
    duplicates: int = 0
    credits: int = 0
    status: str = "added"  # added | repaired | unchanged | skipped-greyscale | skipped-error
    message: str = ""


@dataclass
class BuildReport:
    """Summary of one ``build_dataset`` call."""

    output: Path
    episodes: list[EpisodeReport] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def decoded(self) -> int:
        return sum(e.decoded for e in self.episodes)


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


def read_grey_model(dataset_dir: str | os.PathLike[str]) -> GreyModel:
    """The grey model of a dataset's black and white (``build-dataset --grey``/``--grey-pair``;
    luminance for a dataset built before it was recorded).

    Raises:
        DatasetError: no dataset there, or its metadata is damaged (naming the file).
    """
    return _grey_of_meta(read_meta(dataset_dir))


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


def _resolve_test_episodes(names: list[str], test_episodes: Sequence[str] | None,
                           stored: list[str] | None, known: Iterable[str]) -> list[str]:
    """Test episodes from names or 0-based indices into ``names``; default: the first episode.

    A name must be one of ``names`` (the episodes given) or of ``known`` (those the dataset
    already holds).
    """
    if not test_episodes:
        return stored if stored is not None else names[:1]
    known = set(names) | set(known)
    resolved = []
    for item in test_episodes:
        if item.isdigit():
            index = int(item)
            if index >= len(names):
                raise DatasetError(f"--test-episodes: index {index} but only {len(names)} "
                                   "episodes were given")
            resolved.append(names[index])
            continue
        name = episode_name(item)
        if name not in known:
            raise DatasetError(f"--test-episodes: unknown episode {item!r}; the episodes are "
                               f"{', '.join(sorted(known))}")
        resolved.append(name)
    return resolved


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


def _record_problem(name: str, record: dict) -> str | None:
    """What is wrong with an episode's record in ``meta.json`` (None: nothing)."""
    checks = {"source": lambda v: isinstance(v, str) and v != "", "bytes": _is_count,
              "mtime": lambda v: isinstance(v, int) and not isinstance(v, bool),
              "stored": _is_count, "split": lambda v: v in ("train", "test")}
    for key, valid in checks.items():
        if not valid(record.get(key)):
            return (f"meta.json records no valid {key} for episode {name!r} "
                    f"({_shown(record.get(key))})")
    return None


def _rows_problem(root: Path, name: str, rows: list[dict[str, str]]) -> str | None:
    """What is wrong with the manifest rows of a recorded episode and their frames on disk:
    each row must name ``frames/<name>/<frame_index>.png``, once, and that must be a regular
    file inside the dataset (no link out of it)."""
    paths = set()
    for row in rows:
        try:
            want = frame_path(name, _parse_index(row.get("frame_index")))
            _parse_time(row.get("time"))
        except ValueError as exc:
            return f"manifest.csv: a row of episode {name!r} is damaged ({exc})"
        if row.get("path") != want:
            return (f"manifest.csv: a row of episode {name!r} names {_shown(row.get('path'))} "
                    f"as the path of its frame, not {want!r}")
        if want in paths:
            return f"manifest.csv lists frame {want} twice"
        paths.add(want)
    folder = root / "frames" / name
    if rows and not (_is_folder(root / "frames") and _is_folder(folder)):
        return f"the frames of episode {name!r} are missing ({folder} is not a folder)"
    missing = [path for path in sorted(paths) if not _is_regular(root / path, follow=False)]
    if missing:
        return (f"{len(missing)} of the {len(rows)} frames of episode {name!r} are missing "
                f"(first: {missing[0]})")
    return None


def dataset_problems(root: Path, meta: dict, manifest: list[dict[str, str]]) -> dict[str, str]:
    """Where ``meta.json``, ``manifest.csv`` and the frames on disk disagree, by episode.

    ``meta.json`` records every finished episode with its source, number of stored frames
    and split; the manifest must list exactly that many rows for it, with that split, each
    naming its own frame file (:func:`frame_path`), which must exist in the dataset. Manifest
    rows of an episode ``meta.json`` does not record are a problem too (a build stopped
    between the two writes).

    Returns:
        ``{episode: what is wrong}``; empty when the three agree.
    """
    episodes: dict = meta.get("episodes", {})
    rows_of: dict[str, list[dict[str, str]]] = {}
    for row in manifest:
        rows_of.setdefault(row.get("episode") or "", []).append(row)
    problems = {name: f"manifest.csv lists {len(rows)} frames of episode {_shown(name)}, "
                      "which meta.json does not record"
                for name, rows in rows_of.items() if name not in episodes}
    for name, record in episodes.items():
        rows = rows_of.get(name, [])
        problem = _record_problem(name, record)
        if problem is None and len(rows) != record["stored"]:
            problem = (f"manifest.csv lists {len(rows)} of the {record['stored']} frames of "
                       f"episode {name!r}")
        if problem is None and any(row.get("split") != record["split"] for row in rows):
            problem = (f"manifest.csv puts frames of episode {name!r} in another split than "
                       f"meta.json ({record['split']})")
        problem = problem or _rows_problem(root, name, rows)
        if problem:
            problems[name] = problem
    return problems


def build_dataset(episodes: Sequence[str | os.PathLike[str]], output: str | os.PathLike[str],
                  *, params: DatasetParams = DatasetParams(),
                  test_episodes: Sequence[str] | None = None, skip_errors: bool = False,
                  credit_rule: CreditRule = DEFAULT_CREDIT_RULE, progress_bar: bool = False,
                  wait: float = 0.0, grey: str | GreyModel | None = None) -> BuildReport:
    """Extract, filter and store the frames of whole episodes, split by episode.

    Args:
        episodes: video files, one per episode.
        output: dataset folder; created if missing, extended if it holds a dataset built with
            the same ``params``, and repaired where it disagrees with its ``meta.json``.
        params: frame size, duplicate threshold, whether to drop credit screens.
        test_episodes: episode names (file stems) or 0-based indices into ``episodes`` held out
            for testing; default: the first episode (or the test set already recorded).
        skip_errors: skip unreadable files and keep the frames before damage in truncated ones,
            with a warning, instead of stopping with an error.
        credit_rule: thresholds of the credit test.
        progress_bar: draw a progress bar per episode.
        wait: seconds to wait for another build of the same folder to finish (0: stop at once).
        grey: how the series' black and white is made from its colour (a name of
            :data:`vidcolor.color.GREY_MODELS` or a fitted :class:`~vidcolor.color.GreyModel`,
            :mod:`vidcolor.greyfit`), recorded for training and render; None keeps the
            dataset's own (luminance for a new one). Another model than the recorded one
            replaces it, with a warning (the stored frames are colour and stay).

    Returns:
        A :class:`BuildReport`.

    Raises:
        InputError: a bad episode file (unless ``skip_errors``).
        DatasetError: the folder holds a dataset built with other parameters, episodes clash,
            a test episode is unknown, a damaged episode's source is gone, or no episode gave
            colour frames.
        OutputError: the folder cannot be written, or another build holds it.
    """
    started = time.perf_counter()
    paths = [Path(p) for p in episodes]
    if not paths:
        raise DatasetError("no episode files given")
    if not skip_errors:  # fail before any work rather than after hours of it
        for path in paths:
            check_episode_file(path)
    given: dict[str, Path] = {}
    first: dict[str, tuple[str, Path]] = {}
    for path in paths:
        name = episode_name(path)
        # names that differ only in case are one folder on some file systems
        other_name, other = first.setdefault(name.casefold(), (name, path))
        if other is path:
            given[name] = path
        elif os.path.realpath(other) != os.path.realpath(path):
            raise DatasetError(f"{_printable(path)}: episode name {name!r} clashes with "
                               f"{_printable(other)} ({other_name!r}); rename one of the files")
    output = Path(output)
    _check_output(output)
    ensure_writable_dir(output.parent)
    with exclusive(output, "building it", wait=wait):
        created = not output.exists()
        frames_created = not (output / "frames").exists()
        output = ensure_writable_dir(output)
        try:
            report = _build(given, output, params, test_episodes, skip_errors, credit_rule,
                            progress_bar, None if grey is None else as_grey_model(grey))
        except BaseException:
            _remove_if_nothing_stored(output, created, frames_created)
            raise
    report.seconds = time.perf_counter() - started
    return report


def _check_output(output: Path) -> None:
    """Refuse, before anything is written, an output that is a file or lies under one.

    Raises:
        OutputError: naming the output.
    """
    try:
        mode = output.stat().st_mode
    except FileNotFoundError:
        return
    except (OSError, ValueError) as exc:
        raise OutputError(f"{output}: cannot be the dataset folder "
                          f"({getattr(exc, 'strerror', None) or exc})") from None
    if not stat.S_ISDIR(mode):
        raise OutputError(f"{output}: exists and is not a folder; give another --output")


def _check_new_folder(output: Path) -> None:
    """A folder without ``meta.json`` becomes a dataset only if it holds nothing but what a
    build writes (a build that stopped before its first episode was recorded): a build
    rewrites and deletes in it.

    Raises:
        OutputError: it holds something else.
    """
    try:
        foreign = sorted(entry.name for entry in os.scandir(output)
                         if not entry.name.startswith(".") and entry.name not in _DATASET_ENTRIES)
    except OSError as exc:
        raise OutputError(f"{output}: cannot list the folder ({exc.strerror or exc})") from None
    if foreign:
        raise OutputError(f"{output}: not a vidcolor dataset and not empty (it holds "
                          f"{_shown(foreign[0])}); give a new or empty --output folder")


def _remove_if_nothing_stored(output: Path, created: bool, frames_created: bool) -> None:
    """After a failed build, remove the folders it made if no episode was stored in them."""
    try:
        meta = _read_meta(output)
    except DatasetError:
        return
    if meta is not None and meta.get("episodes"):
        return
    if created:
        shutil.rmtree(output, ignore_errors=True)
    elif frames_created:
        shutil.rmtree(output / "frames", ignore_errors=True)


def _build(given: dict[str, Path], output: Path, params: DatasetParams,
           test_episodes: Sequence[str] | None, skip_errors: bool, credit_rule: CreditRule,
           progress_bar: bool, grey: GreyModel | None = None) -> BuildReport:
    """:func:`build_dataset` once the folder is locked and its arguments checked."""
    meta = _read_meta(output)
    if meta is None:
        _check_new_folder(output)
    elif meta["params"] != asdict(params):
        differ = ", ".join(f"{key} {_shown(meta['params'].get(key))} (given {value!r})"
                           for key, value in asdict(params).items()
                           if meta["params"].get(key) != value)
        raise DatasetError(f"{output}: dataset was built with other parameters: {differ}; "
                           "use the same ones or another --output folder")
    stored_names = {name.casefold(): name for name in (meta or {}).get("episodes", {})}
    for name, path in given.items():
        other = stored_names.get(name.casefold(), name)
        if other != name:
            raise DatasetError(f"{_printable(path)}: episode name {name!r} differs only in case "
                               f"from the dataset's episode {other!r}; rename the file")
    stored_test = meta["test_episodes"] if meta else None
    tests = _resolve_test_episodes(list(given), test_episodes, stored_test,
                                   meta.get("episodes", {}) if meta else ())
    if stored_test is not None and sorted(tests) != sorted(stored_test):
        raise DatasetError(f"{output}: dataset holds test episodes {stored_test}, given "
                           f"{tests}; use the same ones or another --output folder")
    if meta is None:
        meta = {"format": 1, "params": asdict(params), "test_episodes": tests, "episodes": {}}
    meta.setdefault("episodes", {})
    meta["vidcolor_version"] = __version__
    regrey = _record_grey(output, meta, grey)

    manifest = _read_csv(output / "manifest.csv")
    excluded = _read_csv(output / "excluded.csv")
    work, repairs = _plan_repairs(output, meta, manifest, excluded, given)
    listed = len(manifest) + len(excluded)
    manifest = [r for r in manifest if r.get("episode") in meta["episodes"]]
    excluded = [r for r in excluded if r.get("episode") in meta["episodes"]]
    rewrite = bool(repairs) or regrey or len(manifest) + len(excluded) != listed
    frames_root = _frames_folder(output)
    _remove_strays(frames_root, meta["episodes"])

    report = BuildReport(output=output)
    for name, path in work.items():
        done = meta["episodes"].get(name)
        if done is not None and _same_source(path, done):
            report.episodes.append(EpisodeReport(name, str(path), status="unchanged",
                                                 stored=done["stored"]))
            continue
        if _same_source(path, meta.get("greyscale", {}).get(name)):
            message = f"{path}: greyscale episode (no chroma), skipped as before"
            log.warning("%s", message)
            report.episodes.append(EpisodeReport(name, str(path), status="skipped-greyscale",
                                                 message=message))
            continue
        if done is not None:
            raise DatasetError(f"{_printable(path)}: the dataset already holds a different "
                               f"episode {name!r} (from {done['source']}); rename the file")
        try:
            check_episode_file(path)  # with --skip-errors, not checked before
            episode, rows, dropped = _extract_episode(path, name, frames_root, params,
                                                      credit_rule, skip_errors, progress_bar,
                                                      _grey_of_meta(meta))
        except InputError as exc:
            if not skip_errors:
                raise
            log.warning("skipping %s", exc)
            report.episodes.append(EpisodeReport(name, _printable(path),
                                                 status="skipped-error", message=str(exc)))
            continue
        report.episodes.append(episode)
        if episode.status == "skipped-greyscale":  # remembered, so a re-run does not decode it
            meta.setdefault("greyscale", {})[name] = _source_identity(path)
            write_json_atomic(output / "meta.json", meta)
            continue
        if name in repairs:
            episode.status, episode.message = "repaired", repairs[name]
        split = "test" if name in tests else "train"
        for row in rows:
            row["split"] = split
        manifest = [r for r in manifest if r["episode"] != name] + rows
        excluded = [r for r in excluded if r["episode"] != name] + dropped
        meta["episodes"][name] = {**_source_identity(path), "stored": episode.stored,
                                  "decoded": episode.decoded, "credits": episode.credits,
                                  "split": split}
        _commit(output, excluded, manifest, meta)
    if not meta["episodes"]:
        raise DatasetError(f"{output}: no colour frames stored: {_why_empty(report)}")
    if rewrite or not (output / "meta.json").exists():
        _commit(output, excluded, manifest, meta)
    _learn_look(output, meta, progress_bar)
    return report


def _record_grey(output: Path, meta: dict, grey: GreyModel | None) -> bool:
    """Record ``grey`` in ``meta`` (None: keep the record; none at all means luminance);
    whether the record changed."""
    if grey is None:
        return False
    before = meta.get("grey")
    recorded = _grey_of_meta(meta)
    if grey != recorded and meta.get("episodes"):
        log.warning("%s: the grey model changes from %s to %s (runs trained before keep "
                    "theirs; the credit screens' grey signatures of the episodes already "
                    "extracted stay the old model's: build a new dataset to learn them again)",
                    output, recorded.describe(), grey.describe())
    meta["grey"] = grey.to_dict()
    return meta["grey"] != before


def _commit(output: Path, excluded: list[dict], manifest: list[dict], meta: dict) -> None:
    """Rewrite ``excluded.csv``, ``manifest.csv`` and ``meta.json`` (last: it vouches for the
    rest), each atomically.

    When one cannot be written (a full disk), those already rewritten are put back from hard
    links to their previous versions (a rename needs no space), so the three still agree.

    Raises:
        OutputError: a write failed; the dataset is as it was.
    """
    writes = [(output / "excluded.csv", lambda t: _write_csv(t, EXCLUDED_FIELDS, excluded)),
              (output / "manifest.csv", lambda t: _write_csv(t, MANIFEST_FIELDS, manifest)),
              (output / "meta.json", lambda t: write_json_atomic(t, meta))]
    backups = [target.with_name(f".{target.name}.previous") for target, _ in writes]
    written: list[tuple[Path, Path | None]] = []  # (file, its previous version or None)
    try:
        for (target, write), backup in zip(writes, backups, strict=True):
            with contextlib.suppress(FileNotFoundError):
                backup.unlink()
            try:
                os.link(target, backup)
                previous: Path | None | bool = backup
            except FileNotFoundError:
                previous = None  # there was none: putting it back is removing the new one
            except OSError:
                previous = False  # no hard links here: it cannot be put back
            write(target)
            if previous is not False:
                written.append((target, previous))  # type: ignore[arg-type]
    except BaseException:
        for target, previous in reversed(written):
            with contextlib.suppress(OSError):
                if previous is None:
                    target.unlink()
                else:
                    os.replace(previous, target)
        raise
    finally:
        for backup in backups:
            with contextlib.suppress(OSError):
                backup.unlink()


def learn_look(dataset_dir: str | os.PathLike[str], *, max_frames: int = 400,
               progress: bool = False, grey: GreyModel | None = None) -> SeriesLook:
    """Learn a series' look from a dataset's training frames and its excluded credit frames.

    Args:
        dataset_dir: a dataset built by ``vidcolor build-dataset``.
        max_frames: read at most this many training frames (evenly spaced).
        progress: show a progress bar.
        grey: the grey model the black and white is made with (None: the dataset's): the look
            and the credit screens' grey signature are learnt in the lightness of its grey.

    Raises:
        DatasetError: no usable dataset.
    """
    from vidcolor import progress as progress_mod
    from vidcolor.inference.sources import read_image
    from vidcolor.series import learn_credit_grey, learn_credits, look_of_frames

    paths = load_split(dataset_dir, "train")
    if len(paths) > max_frames:
        paths = [paths[i] for i in np.linspace(0, len(paths) - 1, max_frames).round().astype(int)]
    excluded = [f for f in read_excluded(dataset_dir)
                if f.background_rgb is not None and f.text_rgb is not None]
    credits = learn_credits([f.background_rgb for f in excluded],  # type: ignore[misc]
                            [f.text_rgb for f in excluded])  # type: ignore[misc]
    model = read_grey_model(dataset_dir) if grey is None else grey
    # each credit frame's signature, measured at extraction on the model's grey of it
    signed = [f for f in excluded if f.grey_background_y is not None
              and f.grey_text_y is not None]
    credit_grey = learn_credit_grey([f.grey_background_y for f in signed],  # type: ignore[misc]
                                    [f.grey_text_y for f in signed])  # type: ignore[misc]
    with progress_mod.bar(total=len(paths), desc="series look", unit="frame",
                          enabled=progress) as bar:
        frames = (read_image(path)[0] for path in paths)
        look = look_of_frames(_counted(frames, bar), credits, model)
    look.credit_grey = credit_grey if credits is not None else None
    log.info("series look: %d palette colours, %s", len(look.palette),
             "credit colours learnt" if credits else "no credit colours")
    return look


def _counted(frames: Iterable[np.ndarray], bar: Any) -> Iterable[np.ndarray]:
    for frame in frames:
        yield frame
        bar.update(1)


def _learn_look(output: Path, meta: dict, progress_bar: bool) -> None:
    """(Re)learn the series look (``series.json``) when the training episodes or the way it is
    learnt changed."""
    from vidcolor.series import LOOK_VERSION, SERIES_FILE

    episodes = {name: [info.get("bytes"), info.get("mtime")]
                for name, info in sorted(meta["episodes"].items())
                if info.get("split") == "train"}
    path = output / SERIES_FILE
    if not episodes:
        return
    try:
        stored = read_json(path)
    except DatasetError:
        stored = None  # damaged: learn it again
    grey = _grey_of_meta(meta)
    if (isinstance(stored, dict) and stored.get("episodes") == episodes
            and stored.get("version") == LOOK_VERSION
            and stored.get("grey", {"name": "luminance"}) == grey.to_dict()):
        return
    look = learn_look(output, progress=progress_bar, grey=grey)
    write_json_atomic(path, {**look.to_json(), "episodes": episodes, "grey": grey.to_dict()})


def _plan_repairs(output: Path, meta: dict, manifest: list[dict[str, str]],
                  excluded: list[dict[str, str]], given: dict[str, Path]
                  ) -> tuple[dict[str, Path], dict[str, str]]:
    """Drop the episodes that disagree with ``meta.json``, or whose records are damaged, from
    it, to extract them again.

    Returns:
        The episodes to process (the given ones, then damaged ones that were not given, from
        the source recorded for them) and ``{episode: what was wrong}`` for the damaged ones.

    Raises:
        DatasetError: a damaged episode's recorded source is gone or has changed.
    """
    problems = dataset_problems(output, meta, manifest)
    for number, row in enumerate(excluded, start=1):
        name = row.get("episode")
        if name in meta["episodes"] and name not in problems:
            try:
                _excluded_frame(row)
            except ValueError as exc:
                problems[name] = f"excluded.csv: row {number} is damaged ({exc})"
    work = dict(given)
    repairs = {}
    for name, problem in problems.items():
        record = meta["episodes"].pop(name, None)
        if record is None:  # rows without a record: dropped, nothing to re-extract
            log.warning("%s: %s; dropping them", output, problem)
            continue
        repairs[name] = problem
        if name not in work:
            source = Path(str(record.get("source", "")))
            if not _same_source(source, record):
                raise DatasetError(f"{output}: {problem}, and its source {source} "
                                   "is gone or has changed; give the episode's file again to "
                                   "repair it")
            work[name] = source
        log.warning("%s: %s; extracting it again", output, problem)
    return work, repairs


def _write_error(path: Path, exc: OSError) -> OutputError:
    """The one-line error for a file or folder of the dataset the system would not write."""
    if exc.errno in STORAGE_ERRNOS:
        return storage_error(path, exc)
    return OutputError(f"{path}: cannot write ({exc.strerror or exc})")


def _frames_folder(output: Path) -> Path:
    """``output/frames``, created if missing.

    Raises:
        OutputError: it cannot be created.
        DatasetError: it is not a folder of its own (a file, or a link out of the dataset).
    """
    frames_root = output / "frames"
    try:
        frames_root.mkdir(exist_ok=True)
    except FileExistsError:
        pass
    except OSError as exc:
        raise _write_error(frames_root, exc) from None
    if not _is_folder(frames_root):
        raise DatasetError(f"{frames_root}: not a folder (a file or a link); a dataset keeps its "
                           "frames in a folder of its own")
    return frames_root


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


def _remove_strays(frames_root: Path, episodes: dict) -> None:
    """Remove staging folders and frame folders no finished episode owns (left by a crash)."""
    try:
        children = list(frames_root.iterdir())
    except OSError as exc:
        raise OutputError(f"{frames_root}: cannot list the folder ({exc.strerror or exc})"
                          ) from None
    for child in children:
        if _is_folder(child) and (child.name.startswith(".") or child.name not in episodes):
            try:
                _remove_frames_folder(child)
            except OutputError as exc:
                log.warning("%s; left as it is", exc)


def _why_empty(report: BuildReport) -> str:
    greyscale = [e.episode for e in report.episodes if e.status == "skipped-greyscale"]
    failed = [e.episode for e in report.episodes if e.status == "skipped-error"]
    reasons = []
    if greyscale:
        reasons.append(f"greyscale (no chroma): {', '.join(greyscale)}")
    if failed:
        reasons.append(f"unreadable: {', '.join(failed)}")
    return "every episode was " + "; ".join(reasons) + (
        "; a dataset needs colour episodes" if greyscale else "")


def _extract_episode(path: Path, name: str, frames_root: Path, params: DatasetParams,
                     rule: CreditRule, skip_errors: bool, progress_bar: bool,
                     grey: GreyModel | None = None
                     ) -> tuple[EpisodeReport, list[dict], list[dict]]:
    """Extract one episode's frames; a credit frame is dropped and its signature recorded as
    a black and white made with ``grey`` shows it (None: luminance, the colour's own L)."""
    info = probe(path)
    staging = frames_root / f".{name}.partial"
    final = frames_root / name
    _remove_frames_folder(staging)
    try:
        staging.mkdir()
    except OSError as exc:
        raise _write_error(staging, exc) from None
    report = EpisodeReport(name, str(path))
    rows: list[dict] = []
    dropped: list[dict] = []
    dedup = DuplicateFilter(params.dedup_threshold)
    chroma = 0.0
    pending: list[Future] = []
    # PNG encoding releases the GIL: two writer threads overlap it with decoding.
    with ThreadPoolExecutor(max_workers=2) as writers, progress.bar(
            total=info.frame_count or None, desc=name, unit="frame",
            enabled=progress_bar) as bar:
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
                    signature = credit_signature(model_lightness(small, grey or "luminance"))
                    dropped.append({**where, "reason": "credits",
                                    "background_rgb": _rgb_text(colours[0]),
                                    "text_rgb": _rgb_text(colours[1]),
                                    "grey_background_y": "" if signature is None
                                    else f"{signature.background:.6f}",
                                    "grey_text_y": "" if signature is None
                                    else f"{signature.text:.6f}"})
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
    try:
        _remove_frames_folder(final)
        os.replace(staging, final)
    except OSError as exc:
        _discard(staging)
        raise _write_error(final, exc) from None
    except BaseException:
        _discard(staging)
        raise
    return report, rows, dropped


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


def _dataset_root(dataset_dir: str | os.PathLike[str]) -> Path:
    """The dataset folder, checked to be one (a loop of links is one line, not a traceback).

    Raises:
        DatasetError: no folder there, or the system will not open it.
    """
    root = Path(dataset_dir)
    try:
        is_folder = stat.S_ISDIR(root.stat().st_mode)
    except (OSError, ValueError) as exc:
        if getattr(exc, "errno", None) not in (errno.ENOENT, errno.ENOTDIR):
            raise DatasetError(f"{root}: cannot open the dataset folder "
                               f"({getattr(exc, 'strerror', None) or exc})") from None
        is_folder = False
    if not is_folder:
        raise DatasetError(f"{root}: no dataset folder (build one with `vidcolor build-dataset`)")
    return root


def _load(root: Path) -> tuple[dict, list[dict[str, str]]]:
    """A finished dataset's metadata and manifest rows (not yet checked against each other)."""
    meta = read_meta(root)
    manifest = root / "manifest.csv"
    if not os.path.lexists(manifest):
        _missing(manifest)
    rows = _read_csv(manifest)
    if rows and set(MANIFEST_FIELDS) - set(rows[0]):
        raise DatasetError(f"{manifest}: incomplete manifest (columns "
                           f"{sorted(set(MANIFEST_FIELDS) - set(rows[0]))} missing)")
    return meta, rows


def read_meta(dataset_dir: str | os.PathLike[str]) -> dict:
    """A dataset's ``meta.json`` (parameters, test episodes, finished episodes).

    Raises:
        DatasetError: no dataset there, or its metadata is missing, unreadable or damaged.
    """
    root = _dataset_root(dataset_dir)
    meta = _read_meta(root)
    if meta is None:
        _missing(root / "meta.json")
    return meta


def read_manifest(dataset_dir: str | os.PathLike[str]) -> list[dict[str, str]]:
    """The manifest rows of a finished dataset.

    Raises:
        DatasetError: no dataset there, or its manifest is missing or incomplete.
    """
    return _load(Path(dataset_dir))[1]


def _missing(path: Path) -> None:
    raise DatasetError(f"{path}: missing; the dataset is incomplete (re-run "
                       "`vidcolor build-dataset`)")


def verify_dataset(dataset_dir: str | os.PathLike[str]) -> list[dict[str, str]]:
    """Check that a dataset's ``meta.json``, ``manifest.csv`` and frames agree.

    Returns:
        The manifest rows; each names a frame file inside the dataset.

    Raises:
        DatasetError: missing, incomplete or damaged dataset; the message names the file and
            what is wrong.
    """
    root = Path(dataset_dir)
    meta, rows = _load(root)
    problems = dataset_problems(root, meta, rows)
    if problems:
        first = next(iter(problems.values()))
        more = f" (and {len(problems) - 1} more episodes)" if len(problems) > 1 else ""
        raise DatasetError(f"{root}: incomplete dataset: {first}{more}; re-run "
                           "`vidcolor build-dataset` into it to repair it")
    return rows


def load_split(dataset_dir: str | os.PathLike[str], split: str) -> list[Path]:
    """Absolute paths of the PNG frames of one split (``"train"`` or ``"test"``).

    The whole dataset is checked first (:func:`verify_dataset`): a manifest that lists fewer
    frames than ``meta.json`` records, or frames missing on disk, are an error, never a quietly
    smaller split; every path lies inside the dataset folder.

    Raises:
        DatasetError: missing/incomplete dataset, or an empty split.
    """
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', not {split!r}")
    root = _dataset_root(dataset_dir).resolve()
    paths = [root / row["path"] for row in verify_dataset(root) if row["split"] == split]
    if not paths:
        raise DatasetError(f"{root}: the dataset has no {split} frames")
    return paths
