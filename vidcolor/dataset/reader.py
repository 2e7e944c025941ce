"""Reading a finished dataset back, checked: ``meta.json``, ``manifest.csv`` and the frames on
disk must agree (:func:`dataset_problems`).

:func:`load_split` (the frames of a split, for training and evaluation), :func:`read_meta`,
:func:`read_manifest`, :func:`dataset_grey_model` and :func:`verify_dataset` refuse a missing,
incomplete or damaged dataset with one error naming the file and what is wrong.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

from vidcolor.color.grey import GreyModel
from vidcolor.dataset.records import (
    MANIFEST_FIELDS,
    _grey_of_meta,
    _is_count,
    _is_folder,
    _is_regular,
    _parse_index,
    _parse_time,
    _read_csv,
    _read_meta,
    _shown,
    frame_path,
)
from vidcolor.errors import DatasetError


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


def dataset_grey_model(dataset_dir: str | os.PathLike[str]) -> GreyModel:
    """The grey model of a dataset's black and white (``build-dataset --grey``/``--grey-pair``;
    luminance for a dataset built before it was recorded).

    Raises:
        DatasetError: no dataset there, or its metadata is damaged (naming the file).
    """
    return _grey_of_meta(read_meta(dataset_dir))
